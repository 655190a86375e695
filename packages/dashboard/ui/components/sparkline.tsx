import type { JSX } from "preact";

/**
 * A small bar chart of a series (oldest first), hand-drawn SVG. `max` fixes the scale (a rate: 1); by
 * default it is the series' own maximum. Null values (no data) are drawn as gaps.
 */
export function Sparkline(props: {
  values: (number | null)[];
  label: string;
  max?: number;
  tone?: "ok" | "bad";
  format: (v: number) => string;
}): JSX.Element {
  const width = 150;
  const height = 36;
  const n = Math.max(props.values.length, 1);
  const max = props.max ?? Math.max(1, ...props.values.map((v) => v ?? 0));
  const slot = width / n;
  const last = props.values.at(-1) ?? null;
  return (
    <figure class="spark">
      <figcaption>
        <span>{props.label}</span>
        <strong>{last === null ? "—" : props.format(last)}</strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-label={`${props.label}, last ${n} minutes`}
      >
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
        {props.values.map((v, i) => {
          if (v === null) return null;
          const h = v === 0 ? 1 : Math.max(2, (v / max) * (height - 2));
          return (
            <rect
              key={i}
              x={i * slot + 1}
              y={height - h}
              width={Math.max(slot - 2, 1)}
              height={h}
              class={`bar ${props.tone ?? "ok"}${v === 0 ? " zero" : ""}`}
            >
              <title>{`${n - 1 - i === 0 ? "this minute" : `${n - 1 - i} min ago`}: ${props.format(v)}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}
