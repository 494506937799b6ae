import { useState, type ReactNode } from "react";
import { Link } from "react-router-dom";
import { ApiDownError, GraphqlError } from "./api";
import { describeCondition, exactTime, groupDigits, relativeTime, shortAddress, shortId, type ConditionInfo } from "./format";
import { useNow } from "./hooks";

/** Copies `text` to the clipboard; says so for a moment. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="copy"
      aria-label={`Copy ${label}`}
      title={`Copy ${label}`}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1200);
        });
      }}
    >
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">
        {copied ? (
          <path d="M3 8.5l3 3 7-7" fill="none" stroke="currentColor" strokeWidth="2" />
        ) : (
          <path d="M5 5V2.5h8.5V11H11M2.5 5H11v8.5H2.5z" fill="none" stroke="currentColor" strokeWidth="1.4" />
        )}
      </svg>
    </button>
  );
}

type IdKind = "block" | "tx" | "address" | "output";

const labels: Record<IdKind, string> = {
  block: "block ID",
  tx: "transaction ID",
  address: "address",
  output: "output ID",
};

/** An ID or address: linked to its page, shortened unless `full`, copyable. */
export function Id({ kind, value, full = false, link = true }: { kind: IdKind; value: string; full?: boolean; link?: boolean }) {
  const text = full ? value : kind === "address" ? shortAddress(value) : shortId(value);
  const href = kind === "address" ? `/address/${value}` : `/${kind}/${value}`;
  return (
    <span className={full ? "id full" : "id"}>
      {link ? (
        <Link to={href} title={value} className="mono">
          {text}
        </Link>
      ) : (
        <span className="mono" title={value}>
          {text}
        </span>
      )}
      <CopyButton text={value} label={labels[kind]} />
    </span>
  );
}

export function HeightLink({ height }: { height: number }) {
  return <Link to={`/block/${height}`}>{groupDigits(String(height))}</Link>;
}

/** A relative time with the exact time on hover. */
export function Time({ unix }: { unix: number }) {
  const now = useNow();
  const exact = exactTime(unix);
  return (
    <time dateTime={new Date(unix * 1000).toISOString()} title={exact}>
      {relativeTime(unix, now)}
    </time>
  );
}

export function Amount({ value, unit = "coins" }: { value: string | null | undefined; unit?: string }) {
  if (value == null) return <span>–</span>;
  return (
    <span className="amount">
      {groupDigits(value)} <span className="unit">{unit}</span>
    </span>
  );
}

export function Condition({ condition, owner }: { condition: ConditionInfo; owner: string }) {
  return (
    <span className="condition">
      {describeCondition(condition, owner).map((segment, i) =>
        typeof segment === "string" ? <span key={i}>{segment}</span> : <Id key={i} kind="address" value={segment.address} />,
      )}
    </span>
  );
}

/** A definition list of label → value rows. */
export function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** Previous/next buttons over a Relay connection. */
export function Pager({
  info,
  onNewer,
  onOlder,
  label,
}: {
  info: PageInfo | undefined;
  onNewer: (() => void) | undefined;
  onOlder: (cursor: string) => void;
  label: string;
}) {
  if (!info) return null;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={!onNewer} onClick={onNewer}>
        ← Newer
      </button>
      <button
        type="button"
        disabled={!info.hasNextPage || !info.endCursor}
        onClick={() => info.endCursor && onOlder(info.endCursor)}
      >
        Older →
      </button>
    </nav>
  );
}

export function Loading() {
  return (
    <p className="loading" role="status">
      Loading…
    </p>
  );
}

export function NotFound({ what }: { what?: string }) {
  return (
    <section className="notice" data-testid="not-found">
      <h1>Not found</h1>
      <p>{what ?? "There is no such page."} Check the ID, or search for something else.</p>
      <p>
        <Link to="/">Back to the dashboard</Link>
      </p>
    </section>
  );
}

export function ApiDown({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <section className="notice" data-testid="api-down" role="alert">
      <h1>The API is not answering</h1>
      <p>The explorer could not reach its GraphQL API: {error instanceof Error ? error.message : String(error)}</p>
      <p>It may be restarting; the page will work again once it answers.</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </section>
  );
}

export function ErrorView({ error, retry }: { error: unknown; retry?: () => void }) {
  if (error instanceof ApiDownError) return <ApiDown error={error} retry={retry} />;
  if (error instanceof GraphqlError && error.code === "BAD_USER_INPUT") return <NotFound what={`${error.message}.`} />;
  return (
    <section className="notice" role="alert">
      <h1>Something went wrong</h1>
      <p>{error instanceof Error ? error.message : String(error)}</p>
    </section>
  );
}

/** Loading, error, not-found and data in one place. */
export function Loaded<T>({
  state,
  missing,
  children,
}: {
  state: { data: T | undefined; error: unknown; loading: boolean; reload: () => void };
  missing?: (data: T) => string | null;
  children: (data: T) => ReactNode;
}) {
  if (state.error) return <ErrorView error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading />;
  const gone = missing?.(state.data);
  if (gone) return <NotFound what={gone} />;
  return <>{children(state.data)}</>;
}

export interface BlockSummary {
  height: number;
  id: string;
  timestamp: number;
  transactionCount: number;
  staker: string | null;
  size?: number;
}

/** A table of blocks: height, ID, age, transactions, (size,) staker. */
export function BlockTable({ blocks, testId }: { blocks: BlockSummary[]; testId?: string }) {
  const sized = blocks.some((b) => b.size !== undefined);
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">Height</th>
          <th scope="col">Block</th>
          <th scope="col">Age</th>
          <th scope="col">Txs</th>
          {sized && (
            <th scope="col" className="wide">
              Size
            </th>
          )}
          <th scope="col" className="wide">
            Staker
          </th>
        </tr>
      </thead>
      <tbody>
        {blocks.map((b) => (
          <tr key={b.id} data-height={b.height}>
            <td>
              <HeightLink height={b.height} />
            </td>
            <td>
              <Id kind="block" value={b.id} />
            </td>
            <td>
              <Time unix={b.timestamp} />
            </td>
            <td>{b.transactionCount}</td>
            {sized && <td className="wide">{groupDigits(String(b.size ?? 0))} B</td>}
            <td className="wide">{b.staker ? <Id kind="address" value={b.staker} /> : "genesis"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
