import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * A vitest sequencer that starts the named files first, in the order given, and the rest in vitest's own order.
 * A clean clone (as CI runs) has no results cache, so vitest orders files by size, and a long file that happens
 * to be small can start last and leave the run waiting on it alone at the end.
 */
export function longestFirst(paths: readonly string[]): typeof BaseSequencer {
  return class LongestFirst extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
      const rank = (file: TestSpecification): number => {
        const i = paths.findIndex((path) => file.moduleId.endsWith(path));
        return i === -1 ? paths.length : i;
      };
      // A stable sort: the other files keep vitest's own order.
      return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
    }
  };
}
