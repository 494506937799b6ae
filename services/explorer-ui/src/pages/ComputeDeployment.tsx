// `/compute/deployment/:id`: a deployment's workloads (desired and
// reported state, with their history), billing history, reschedules with
// their reason and the "billed while down" audit.
import { Link, useParams } from "react-router-dom";
import { Amount, Facts, HeightLink, Id, Loaded } from "../components";
import { useQuery } from "../hooks";
import { NodeLink, StateBadge, WORKLOAD_FIELDS, WorkloadTable, type Workload } from "./ComputeCommon";

const DEPLOYMENT = `query Deployment($id: String!) {
  deployment(id: $id) {
    id owner name reschedule farms country city pricePerBlock balance billedTo graceSince status cancelCause
    createdHeight updatedHeight canceledHeight
    workloads { ${WORKLOAD_FIELDS} history { height eventIndex kind state reason node } }
    billing { height kind amount fromHeight toHeight balance node address }
    reschedules { height workload fromNode toNode lastReportHeight reason }
    billedWhileDown { workload node height fromHeight toHeight downBlocks amount }
  }
}`;

const OWNER = `query Owner($id: String!) { identity(id: $id) { name } }`;

interface Change {
  height: number;
  eventIndex: number;
  kind: string;
  state: string;
  reason: string | null;
  node: string;
}

interface Data {
  deployment: null | {
    id: string;
    owner: string;
    name: string;
    reschedule: string;
    farms: string[];
    country: string | null;
    city: string | null;
    pricePerBlock: string;
    balance: string;
    billedTo: number;
    graceSince: number | null;
    status: string;
    cancelCause: string | null;
    createdHeight: number;
    updatedHeight: number;
    canceledHeight: number | null;
    workloads: (Workload & { history: Change[] })[];
    billing: { height: number; kind: string; amount: string; fromHeight: number | null; toHeight: number | null; balance: string; node: string | null; address: string | null }[];
    reschedules: { height: number; workload: string | null; fromNode: string; toNode: string | null; lastReportHeight: number | null; reason: string }[];
    billedWhileDown: { workload: string; node: string; height: number; fromHeight: number; toHeight: number; downBlocks: number; amount: string }[];
  };
}

/** The owner's name when the identity model knows it, else the ID. */
function Owner({ id }: { id: string }) {
  const state = useQuery<{ identity: { name: string } | null }>(OWNER, { id });
  const name = state.data?.identity?.name;
  return name ? (
    <>
      <Link to={`/identity/${encodeURIComponent(name)}`}>{name}</Link> ·{" "}
      <Link to={`/compute/deployments/${encodeURIComponent(name)}`}>all deployments</Link>
    </>
  ) : (
    <Link to={`/compute/deployments/${id}`} className="mono" title={id}>
      {id.slice(0, 8)}…
    </Link>
  );
}

function changeText(change: Change): string {
  if (change.kind === "placed") return `placed (${change.state})`;
  if (change.kind === "removed") return "removed";
  return change.state;
}

function History({ workloads }: { workloads: (Workload & { history: Change[] })[] }) {
  return (
    <table data-testid="workload-history">
      <thead>
        <tr>
          <th scope="col">Height</th>
          <th scope="col">Workload</th>
          <th scope="col">Change</th>
          <th scope="col">Node</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        {workloads
          .flatMap((w) => w.history.map((change) => ({ workload: w.name, change })))
          .sort((a, b) => a.change.height - b.change.height || a.change.eventIndex - b.change.eventIndex)
          .map(({ workload, change }) => (
            <tr key={`${workload}/${change.height}/${change.eventIndex}`} data-workload={workload} data-kind={change.kind}>
              <td>
                <HeightLink height={change.height} />
              </td>
              <td>{workload}</td>
              <td>
                <StateBadge state={changeText(change)} />
              </td>
              <td>
                <NodeLink id={change.node} />
              </td>
              <td>{change.reason ?? ""}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

export function ComputeDeploymentPage() {
  const { id = "" } = useParams();
  const state = useQuery<Data>(DEPLOYMENT, { id });
  return (
    <Loaded state={state} missing={(data) => (data.deployment ? null : `There is no deployment ${id}.`)}>
      {(data) => {
        const d = data.deployment;
        if (!d) return null;
        const constraints = [
          d.farms.length > 0 ? `farms ${d.farms.join(", ")}` : null,
          d.country ? `country ${d.country.toUpperCase()}` : null,
          d.city ? `city ${d.city}` : null,
        ].filter((c) => c !== null);
        return (
          <>
            <h1>Deployment {d.name}</h1>
            <section className="card">
              <Facts
                rows={[
                  ["Deployment ID", <Id key="id" kind="tx" value={d.id} full />],
                  ["Owner", <Owner key="o" id={d.owner} />],
                  ["Status", <><StateBadge state={d.status} />{d.cancelCause && <span className="hint"> {d.cancelCause.replace(/_/g, " ")}</span>}</>],
                  ["Price per block", <Amount key="p" value={d.pricePerBlock} />],
                  ["Balance", <Amount key="b" value={d.balance} />],
                  ["Billed up to", <HeightLink key="t" height={d.billedTo} />],
                  ["Unpaid since", d.graceSince == null ? "–" : <HeightLink key="g" height={d.graceSince} />],
                  ["Reschedule policy", d.reschedule],
                  ["Constraints", constraints.length > 0 ? constraints.join(", ") : "none"],
                  ["Created at", <HeightLink key="c" height={d.createdHeight} />],
                ]}
              />
            </section>
            <section className="card">
              <h2>Workloads</h2>
              <WorkloadTable workloads={d.workloads} show="node" testId="deployment-workloads" />
            </section>
            <section className="card">
              <h2>State history</h2>
              <History workloads={d.workloads} />
            </section>
            <section className="card">
              <h2>Billing</h2>
              {d.billing.length === 0 ? (
                <p className="hint">No billing yet.</p>
              ) : (
                <table data-testid="billing">
                  <thead>
                    <tr>
                      <th scope="col">Height</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Amount</th>
                      <th scope="col">Blocks</th>
                      <th scope="col">Balance after</th>
                      <th scope="col">Paid to</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.billing.map((entry, i) => (
                      <tr key={i} data-kind={entry.kind} data-node={entry.node ?? undefined} data-address={entry.address ?? undefined}>
                        <td>
                          <HeightLink height={entry.height} />
                        </td>
                        <td>{entry.kind.replace(/_/g, " ")}</td>
                        <td>
                          <Amount value={entry.amount} />
                        </td>
                        <td>{entry.fromHeight != null && entry.toHeight != null ? `${entry.fromHeight}–${entry.toHeight}` : ""}</td>
                        <td>
                          <Amount value={entry.balance} />
                        </td>
                        <td>
                          {entry.node ? <NodeLink id={entry.node} /> : null}
                          {entry.node && entry.address ? " → " : null}
                          {entry.address ? <Id kind="address" value={entry.address} /> : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section className="card">
              <h2>Reschedules</h2>
              {d.reschedules.length === 0 ? (
                <p className="hint" data-testid="reschedules">
                  No workload was moved off a silent node.
                </p>
              ) : (
                <table data-testid="reschedules">
                  <thead>
                    <tr>
                      <th scope="col">Height</th>
                      <th scope="col">Workload</th>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col">Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.reschedules.map((r, i) => (
                      <tr key={i}>
                        <td>
                          <HeightLink height={r.height} />
                        </td>
                        <td>{r.workload ?? "(all: not moved)"}</td>
                        <td>
                          <NodeLink id={r.fromNode} />
                        </td>
                        <td>{r.toNode ? <NodeLink id={r.toNode} /> : "–"}</td>
                        <td>{r.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section className="card">
              <h2>Billed while down</h2>
              <p className="hint">Blocks this deployment paid for while a workload's node was silent or reported power down.</p>
              {d.billedWhileDown.length === 0 ? (
                <p className="hint" data-testid="billed-while-down">
                  None.
                </p>
              ) : (
                <table data-testid="billed-while-down">
                  <thead>
                    <tr>
                      <th scope="col">Bill at</th>
                      <th scope="col">Workload</th>
                      <th scope="col">Node</th>
                      <th scope="col">Billed blocks</th>
                      <th scope="col">Blocks down</th>
                      <th scope="col">Amount</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.billedWhileDown.map((row, i) => (
                      <tr key={i} data-workload={row.workload}>
                        <td>
                          <HeightLink height={row.height} />
                        </td>
                        <td>{row.workload}</td>
                        <td>
                          <NodeLink id={row.node} />
                        </td>
                        <td>{`${row.fromHeight}–${row.toHeight}`}</td>
                        <td>{row.downBlocks}</td>
                        <td>
                          <Amount value={row.amount} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </>
        );
      }}
    </Loaded>
  );
}
