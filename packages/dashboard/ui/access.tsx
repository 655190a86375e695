import { createContext, type ComponentChildren, type JSX } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { adminToken, api, ok, type AccessInfo } from "./api/client.js";

interface AccessState {
  info: AccessInfo | undefined;
  error: string | undefined;
  /** Stores the token for this tab and asks the coordinator again; null forgets it. */
  setToken(token: string | null): Promise<void>;
  refresh(): Promise<void>;
}

const AccessContext = createContext<AccessState>({
  info: undefined,
  error: undefined,
  setToken: async () => {},
  refresh: async () => {},
});

/** Whether this browser may cancel and redrive (GET /api/v1/access, with the token if one was entered). */
export function AccessProvider(props: { children: ComponentChildren }): JSX.Element {
  const [info, setInfo] = useState<AccessInfo>();
  const [error, setError] = useState<string>();
  const refresh = useCallback(async () => {
    try {
      setInfo(await ok(api.GET("/api/v1/access")));
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);
  const setToken = useCallback(
    async (token: string | null) => {
      adminToken.set(token);
      await refresh();
    },
    [refresh],
  );
  useEffect(() => void refresh(), [refresh]);
  return <AccessContext.Provider value={{ info, error, setToken, refresh }}>{props.children}</AccessContext.Provider>;
}

export function useAccess(): AccessState {
  return useContext(AccessContext);
}

/** Why changes are disabled, or undefined when they are allowed. */
export function useReadOnlyReason(): string | undefined {
  const { info, error } = useAccess();
  if (info === undefined)
    return error !== undefined ? `cannot tell whether changes are allowed: ${error}` : "checking access…";
  return info.canChange ? undefined : info.message;
}
