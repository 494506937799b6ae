import { Link, useParams } from "react-router-dom";
import { Amount, Facts, HeightLink, Id, Loaded, Time } from "../components";
import { groupDigits, kindLabel } from "../format";
import { useQuery } from "../hooks";

interface Data {
  block: null | {
    height: number;
    id: string;
    parentId: string;
    timestamp: number;
    staker: string | null;
    transactionCount: number;
    fees: string;
    payoutsTotal: string;
    blockTime: number | null;
    size: number;
    target: string | null;
    difficulty: string;
    estimatedActiveStake: string;
    confirmations: number;
    stakeOutput: { id: string; value: string; address: string } | null;
    transactions: { nodes: { id: string; kind: string; fee: string; coinOutputTotal: string; coinInputCount: number; coinOutputCount: number }[] };
    payouts: { nodes: { id: string; value: string; address: string; maturesAt: number | null; spent: boolean }[] };
  };
}

const BLOCK = `query Block($height: Int, $id: String) {
  block(height: $height, id: $id) {
    height id parentId timestamp staker transactionCount fees payoutsTotal blockTime size target
    difficulty estimatedActiveStake confirmations
    stakeOutput { id value address }
    transactions(first: 100) { nodes { id kind fee coinOutputTotal coinInputCount coinOutputCount } }
    payouts(first: 100) { nodes { id value address maturesAt spent } }
  }
}`;

export function BlockPage() {
  const { ref = "" } = useParams();
  const variables = /^\d+$/.test(ref) ? { height: Number(ref) } : { id: ref };
  const state = useQuery<Data>(BLOCK, variables);
  return (
    <Loaded state={state} missing={(data) => (data.block ? null : `No block ${ref} on the best chain.`)}>
      {({ block }) =>
        block && (
          <>
            <h1>
              Block {groupDigits(String(block.height))}
              <nav className="prevnext" aria-label="Neighbour blocks">
                {block.height > 0 && <Link to={`/block/${block.height - 1}`}>← {block.height - 1}</Link>}
                <Link to={`/block/${block.height + 1}`}>{block.height + 1} →</Link>
              </nav>
            </h1>
            <section className="card" aria-label="Header">
              <Facts
                rows={[
                  ["ID", <Id kind="block" value={block.id} full link={false} />],
                  ["Parent", block.height > 0 ? <Id kind="block" value={block.parentId} /> : "none (genesis)"],
                  ["Time", <Time unix={block.timestamp} />],
                  ["Block time", block.blockTime == null ? "–" : `${block.blockTime} s`],
                  ["Confirmations", groupDigits(String(block.confirmations))],
                  ["Staker", block.staker ? <Id kind="address" value={block.staker} /> : "genesis"],
                  [
                    "Winning stake output",
                    block.stakeOutput ? (
                      <>
                        <Id kind="output" value={block.stakeOutput.id} /> <Amount value={block.stakeOutput.value} unit="blockstakes" />
                      </>
                    ) : (
                      "–"
                    ),
                  ],
                  ["Fees", <Amount value={block.fees} />],
                  ["Payouts", <Amount value={block.payoutsTotal} />],
                  ["Size", `${groupDigits(String(block.size))} bytes`],
                  ["Difficulty", groupDigits(block.difficulty)],
                  ["Active stake (est.)", <Amount value={block.estimatedActiveStake} unit="blockstakes" />],
                ]}
              />
            </section>
            <section className="card" aria-labelledby="txs-title">
              <h2 id="txs-title">Transactions ({block.transactionCount})</h2>
              {block.transactions.nodes.length === 0 ? (
                <p className="hint">No transactions in this block.</p>
              ) : (
                <table data-testid="block-transactions">
                  <thead>
                    <tr>
                      <th scope="col">Transaction</th>
                      <th scope="col">Kind</th>
                      <th scope="col">In/out</th>
                      <th scope="col">Output total</th>
                      <th scope="col" className="wide">Fee</th>
                    </tr>
                  </thead>
                  <tbody>
                    {block.transactions.nodes.map((t) => (
                      <tr key={t.id}>
                        <td>
                          <Id kind="tx" value={t.id} />
                        </td>
                        <td>{kindLabel(t.kind)}</td>
                        <td>
                          {t.coinInputCount} → {t.coinOutputCount}
                        </td>
                        <td>
                          <Amount value={t.coinOutputTotal} />
                        </td>
                        <td className="wide">
                          <Amount value={t.fee} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section className="card" aria-labelledby="payouts-title">
              <h2 id="payouts-title">Payouts</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Output</th>
                    <th scope="col">To</th>
                    <th scope="col">Value</th>
                    <th scope="col">Matures at</th>
                  </tr>
                </thead>
                <tbody>
                  {block.payouts.nodes.map((p) => (
                    <tr key={p.id}>
                      <td>
                        <Id kind="output" value={p.id} />
                      </td>
                      <td>
                        <Id kind="address" value={p.address} />
                      </td>
                      <td>
                        <Amount value={p.value} />
                      </td>
                      <td>{p.maturesAt == null ? "–" : <HeightLink height={p.maturesAt} />}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </>
        )
      }
    </Loaded>
  );
}
