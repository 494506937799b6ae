import { useState } from "react";
import { useParams } from "react-router-dom";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Amount, Condition, Facts, HeightLink, Id, Loaded, Pager, type PageInfo } from "../components";
import { groupDigits, kindLabel, type ConditionInfo } from "../format";
import { useQuery } from "../hooks";
import { CONDITION_FIELDS } from "./Transaction";

interface Info {
  address: string;
  kind: string;
  blockstakeBalance: string;
  transactionCount: number;
  blocksCreated: number;
  firstSeen: number;
  lastSeen: number;
  balance: { spendable: string; maturing: string; timeLocked: string; total: string };
  multisig: { required: number; keyCount: number; members: string[] } | null;
  multisigMemberships: { multisigAddress: string; required: number; keyCount: number }[];
  balanceHistory: { height: number; balance: string }[];
}

const ADDRESS = `query Address($address: String!) {
  address(address: $address) {
    address kind blockstakeBalance transactionCount blocksCreated firstSeen lastSeen
    balance { spendable maturing timeLocked total }
    multisig { required keyCount members }
    multisigMemberships { multisigAddress required keyCount }
    balanceHistory(last: 500) { height balance }
  }
}`;

const HISTORY = `query History($address: String!, $first: Int, $after: String, $last: Int, $before: String) {
  address(address: $address) {
    history(first: $first, after: $after, last: $last, before: $before) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { id blockHeight kind fee coinOutputTotal block { timestamp } }
    }
  }
}`;

const UNSPENT = `query Unspent($address: String!, $first: Int, $after: String, $last: Int, $before: String) {
  address(address: $address) {
    unspentOutputs(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { id currency value blockHeight maturesAt address ${CONDITION_FIELDS} }
    }
  }
}`;

const PAGE = 10;

const compactFormat = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 2 });
const compact = (value: number) => compactFormat.format(value);

interface Cursor {
  after?: string;
  before?: string;
}

function pageVariables(address: string, cursor: Cursor) {
  return cursor.before ? { address, last: PAGE, before: cursor.before } : { address, first: PAGE, after: cursor.after ?? null };
}

function newer(info: PageInfo, cursor: Cursor, set: (c: Cursor) => void) {
  const has = cursor.before ? info.hasPreviousPage : Boolean(cursor.after);
  return has && info.startCursor ? () => set({ before: info.startCursor ?? undefined }) : undefined;
}

function History({ address }: { address: string }) {
  const [cursor, setCursor] = useState<Cursor>({});
  const state = useQuery<{
    address: { history: { pageInfo: PageInfo; nodes: { id: string; blockHeight: number; kind: string; fee: string; coinOutputTotal: string }[] } } | null;
  }>(HISTORY, pageVariables(address, cursor));
  return (
    <section className="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <Loaded state={state}>
        {({ address: a }) =>
          a && (
            <>
              <table data-testid="history">
                <thead>
                  <tr>
                    <th scope="col">Transaction</th>
                    <th scope="col">Block</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Output total</th>
                  </tr>
                </thead>
                <tbody>
                  {a.history.nodes.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <Id kind="tx" value={t.id} />
                      </td>
                      <td>
                        <HeightLink height={t.blockHeight} />
                      </td>
                      <td>{kindLabel(t.kind)}</td>
                      <td>
                        <Amount value={t.coinOutputTotal} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager label="History" info={a.history.pageInfo} onNewer={newer(a.history.pageInfo, cursor, setCursor)} onOlder={(c) => setCursor({ after: c })} />
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function Unspent({ address }: { address: string }) {
  const [cursor, setCursor] = useState<Cursor>({});
  const state = useQuery<{
    address: {
      unspentOutputs: {
        totalCount: number;
        pageInfo: PageInfo;
        nodes: { id: string; currency: string; value: string; blockHeight: number; maturesAt: number | null; address: string; condition: ConditionInfo }[];
      };
    } | null;
  }>(UNSPENT, pageVariables(address, cursor));
  return (
    <section className="card" aria-labelledby="utxo-title">
      <h2 id="utxo-title">Unspent outputs</h2>
      <Loaded state={state}>
        {({ address: a }) =>
          a && (
            <>
              <p className="hint">{a.unspentOutputs.totalCount} unspent outputs.</p>
              <table data-testid="unspent">
                <thead>
                  <tr>
                    <th scope="col">Output</th>
                    <th scope="col">Value</th>
                    <th scope="col">Created</th>
                    <th scope="col" className="wide">Condition</th>
                  </tr>
                </thead>
                <tbody>
                  {a.unspentOutputs.nodes.map((o) => (
                    <tr key={o.id}>
                      <td>
                        <Id kind="output" value={o.id} />
                      </td>
                      <td>
                        <Amount value={o.value} unit={o.currency === "BLOCKSTAKE" ? "blockstakes" : "coins"} />
                      </td>
                      <td>
                        <HeightLink height={o.blockHeight} />
                      </td>
                      <td className="wide">
                        <Condition condition={o.condition} owner={o.address} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager
                label="Unspent outputs"
                info={a.unspentOutputs.pageInfo}
                onNewer={newer(a.unspentOutputs.pageInfo, cursor, setCursor)}
                onOlder={(c) => setCursor({ after: c })}
              />
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function BalanceChart({ points }: { points: { height: number; balance: string }[] }) {
  if (points.length === 0) return null;
  const data = points.map((p) => ({ height: p.height, balance: Number(p.balance) }));
  return (
    <section className="card" aria-labelledby="balance-chart-title">
      <h2 id="balance-chart-title">Coin balance over time</h2>
      <figure aria-label="Coin balance after each change, by block height" data-testid="balance-chart">
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={data}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--grid)" />
            <XAxis dataKey="height" type="number" domain={["dataMin", "dataMax"]} allowDecimals={false} stroke="var(--muted)" />
            <YAxis stroke="var(--muted)" width={64} tickFormatter={compact} domain={["auto", "auto"]} />
            <Tooltip contentStyle={{ background: "var(--card)", color: "var(--fg)" }} />
            <Line type="stepAfter" dataKey="balance" name="coins" stroke="var(--accent)" dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </figure>
    </section>
  );
}

export function AddressPage() {
  const { address = "" } = useParams();
  const state = useQuery<{ address: Info | null }>(ADDRESS, { address });
  return (
    <Loaded state={state} missing={(data) => (data.address ? null : `The address ${address} has never appeared on chain.`)}>
      {({ address: a }) =>
        a && (
          <>
            <h1>Address</h1>
            <section className="card" aria-label="Balances">
              <Facts
                rows={[
                  ["Address", <Id kind="address" value={a.address} full link={false} />],
                  ["Kind", kindLabel(a.kind)],
                  ["Spendable", <Amount value={a.balance.spendable} />],
                  ["Maturing", <Amount value={a.balance.maturing} />],
                  ["Time-locked", <Amount value={a.balance.timeLocked} />],
                  ["Total", <Amount value={a.balance.total} />],
                  ["Blockstakes", <Amount value={a.blockstakeBalance} unit="blockstakes" />],
                  ["Transactions", groupDigits(String(a.transactionCount))],
                  ["Blocks created", groupDigits(String(a.blocksCreated))],
                  ["Seen", <>blocks <HeightLink height={a.firstSeen} /> to <HeightLink height={a.lastSeen} /></>],
                ]}
              />
            </section>
            {a.multisig && (
              <section className="card" aria-labelledby="members-title">
                <h2 id="members-title">Multisig members</h2>
                <p>
                  <Condition
                    condition={{ type: "multisig", multisigMembers: a.multisig.members, multisigKeyCount: a.multisig.keyCount, multisigRequired: a.multisig.required }}
                    owner={a.address}
                  />
                </p>
              </section>
            )}
            {a.multisigMemberships.length > 0 && (
              <section className="card" aria-labelledby="memberships-title">
                <h2 id="memberships-title">Multisig memberships</h2>
                <ul data-testid="memberships">
                  {a.multisigMemberships.map((m) => (
                    <li key={m.multisigAddress}>
                      <Id kind="address" value={m.multisigAddress} />: {m.required} of {m.keyCount} signatures
                    </li>
                  ))}
                </ul>
              </section>
            )}
            <BalanceChart points={a.balanceHistory} />
            <History address={a.address} />
            <Unspent address={a.address} />
          </>
        )
      }
    </Loaded>
  );
}
