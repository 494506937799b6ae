import { useCallback, useEffect, useState } from "react";
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { subscribe } from "../api";
import { Amount, BlockTable, Facts, HeightLink, Id, Loaded, Time } from "../components";
import { duration, groupDigits } from "../format";
import { useQuery } from "../hooks";

interface BlockRow {
  height: number;
  id: string;
  timestamp: number;
  transactionCount: number;
  staker: string | null;
  blockTime: number | null;
}

interface ChainData {
  chain: {
    network: string;
    height: number | null;
    difficulty: string | null;
    coinSupply: string | null;
    blockstakeSupply: string | null;
    estimatedActiveStake: string | null;
    tip: { id: string; timestamp: number } | null;
    constants: { blockFrequency: number };
  };
  blocks: { nodes: BlockRow[] };
}

const BLOCK_FIELDS = "height id timestamp transactionCount staker blockTime";

const CHAIN = `query Dashboard {
  chain {
    network height difficulty coinSupply blockstakeSupply estimatedActiveStake
    tip { id timestamp }
    constants { blockFrequency }
  }
  blocks(first: 10) { nodes { ${BLOCK_FIELDS} } }
}`;

const NEW_BLOCKS = `subscription NewBlocks { newBlocks { ${BLOCK_FIELDS} } }`;

interface Point {
  fromHeight: number;
  toHeight: number;
  blocks: number;
  transactions: number;
  averageBlockTime: number | null;
}

const STATISTICS = `query Statistics($from: Int!, $granularity: Int!) {
  statistics(range: { fromHeight: $from }, granularity: $granularity) {
    fromHeight toHeight blocks transactions averageBlockTime
  }
}`;

const RANGES = [100, 1000, 10000, 100000];

const compactFormat = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const compact = (value: number) => compactFormat.format(value);
/** Points per chart: enough to see a shape, far below the API's bound. */
const POINTS = 100;

function Charts({ height }: { height: number }) {
  const [range, setRange] = useState(1000);
  // From block 2: the genesis timestamp is set in the network file, so
  // block 1's block time is arbitrary and would dwarf every other.
  const from = Math.min(height, Math.max(2, height - range + 1));
  const granularity = Math.max(1, Math.ceil((height - from + 1) / POINTS));
  const stats = useQuery<{ statistics: Point[] }>(STATISTICS, { from, granularity });
  const points = (stats.data?.statistics ?? []).map((p) => ({
    height: p.toHeight,
    blockTime: p.averageBlockTime == null ? null : Number(p.averageBlockTime.toFixed(2)),
    txPerBlock: Number((p.transactions / Math.max(1, p.blocks)).toFixed(2)),
  }));
  return (
    <section aria-labelledby="charts-title" className="card">
      <div className="card-head">
        <h2 id="charts-title">Block time and transactions</h2>
        <label>
          Range{" "}
          <select value={range} onChange={(event) => setRange(Number(event.target.value))}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                last {groupDigits(String(r))} blocks
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint">
        {granularity > 1 ? `Each point averages ${granularity} blocks.` : "One point per block."}
      </p>
      <div className="charts">
        <figure aria-label="Average block time in seconds by height" data-testid="chart-block-time">
          <figcaption>Block time (s)</figcaption>
          <ResponsiveContainer width="100%" height={220}>
            <LineChart data={points}>
              <CartesianGrid strokeDasharray="3 3" stroke="var(--grid)" />
              <XAxis dataKey="height" type="number" domain={["dataMin", "dataMax"]} allowDecimals={false} stroke="var(--muted)" />
              <YAxis stroke="var(--muted)" width={56} tickFormatter={compact} />
              <Tooltip contentStyle={{ background: "var(--card)", color: "var(--fg)" }} />
              <Line type="monotone" dataKey="blockTime" name="block time (s)" stroke="var(--accent)" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </figure>
        <figure aria-label="Transactions per block by height" data-testid="chart-transactions">
          <figcaption>Transactions per block</figcaption>
          <ResponsiveContainer width="100%" height={220}>
            <BarChart data={points}>
              <CartesianGrid strokeDasharray="3 3" stroke="var(--grid)" />
              <XAxis dataKey="height" type="number" domain={["dataMin", "dataMax"]} allowDecimals={false} stroke="var(--muted)" />
              <YAxis stroke="var(--muted)" width={56} allowDecimals tickFormatter={compact} />
              <Tooltip contentStyle={{ background: "var(--card)", color: "var(--fg)" }} />
              <Bar dataKey="txPerBlock" name="transactions per block" fill="var(--accent)" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </figure>
      </div>
    </section>
  );
}

function LiveBlocks({ initial, onBlock }: { initial: BlockRow[]; onBlock: (block: BlockRow) => void }) {
  const [blocks, setBlocks] = useState(initial);
  const [live, setLive] = useState<"connecting" | "live" | "lost">("connecting");
  useEffect(() => {
    setLive("connecting");
    return subscribe<{ newBlocks: BlockRow }>(
      NEW_BLOCKS,
      {},
      (data) => {
        setLive("live");
        onBlock(data.newBlocks);
        setBlocks((old) => [data.newBlocks, ...old.filter((b) => b.height < data.newBlocks.height)].slice(0, 10));
      },
      () => setLive("lost"),
    );
  }, [onBlock]);
  const tip = blocks[0];
  return (
    <section aria-labelledby="live-title" className="card">
      <div className="card-head">
        <h2 id="live-title">Latest blocks</h2>
        <span className={`live ${live}`} role="status" aria-live="polite">
          {live === "lost" ? "live updates lost — reload" : live === "live" ? "● live" : "○ waiting for the next block"}
        </span>
      </div>
      {tip && (
        <p className="hint" data-testid="tip-height">
          Tip: block <HeightLink height={tip.height} />
        </p>
      )}
      <BlockTable blocks={blocks} testId="live-blocks" />
    </section>
  );
}

export function Dashboard() {
  const state = useQuery<ChainData>(CHAIN);
  // The newest block pushed by the subscription, ahead of the query's tip.
  const [pushed, setPushed] = useState<BlockRow>();
  const onBlock = useCallback((block: BlockRow) => setPushed(block), []);
  return (
    <Loaded state={state}>
      {({ chain: queried, blocks }) => {
        const chain =
          pushed && (queried.height == null || pushed.height > queried.height)
            ? { ...queried, height: pushed.height, tip: { id: pushed.id, timestamp: pushed.timestamp } }
            : queried;
        return (
        <>
          <h1>
            Chain <span className="muted">{chain.network}</span>
          </h1>
          <section className="card" aria-label="Chain facts">
            <Facts
              rows={[
                ["Height", chain.height == null ? "no block yet" : <HeightLink height={chain.height} />],
                ["Tip", chain.tip ? <Id kind="block" value={chain.tip.id} /> : "–"],
                ["Tip time", chain.tip ? <Time unix={chain.tip.timestamp} /> : "–"],
                ["Coin supply", <Amount value={chain.coinSupply} />],
                ["Blockstake supply", <Amount value={chain.blockstakeSupply} unit="blockstakes" />],
                ["Active stake (est.)", <Amount value={chain.estimatedActiveStake} unit="blockstakes" />],
                ["Difficulty", chain.difficulty ? groupDigits(chain.difficulty) : "–"],
                ["Target block time", duration(chain.constants.blockFrequency)],
              ]}
            />
          </section>
          <LiveBlocks initial={blocks.nodes} onBlock={onBlock} />
          {queried.height != null && <Charts height={queried.height} />}
        </>
        );
      }}
    </Loaded>
  );
}
