// `/compute/node/:id`: one node's capacity (used vs free), power, its
// uptime reports and the workloads placed on it.
import { useParams } from "react-router-dom";
import { Amount, Facts, HeightLink, Id, Loaded } from "../components";
import { groupDigits } from "../format";
import { useQuery } from "../hooks";
import { CapacityBars, FullId, NODE_FIELDS, StateBadge, WORKLOAD_FIELDS, WorkloadTable, uptime, type ComputeNode, type Workload } from "./ComputeCommon";

const NODE = `query ComputeNode($id: String!) {
  computeNode(id: $id) {
    ${NODE_FIELDS} nodeKey payoutAddress earned
    workloads { ${WORKLOAD_FIELDS} }
    reports(limit: 50) { height sequence uptimeSeconds power }
  }
}`;

interface Report {
  height: number;
  sequence: number | null;
  uptimeSeconds: number;
  power: string;
}

interface Data {
  computeNode: null | (ComputeNode & { nodeKey: string; payoutAddress: string | null; earned: string; workloads: Workload[]; reports: Report[] });
}

export function ComputeNodePage() {
  const { id = "" } = useParams();
  const state = useQuery<Data>(NODE, { id });
  return (
    <Loaded state={state} missing={(data) => (data.computeNode ? null : `There is no compute node ${id}.`)}>
      {(data) => {
        const node = data.computeNode;
        if (!node) return null;
        return (
          <>
            <h1>Compute node</h1>
            <section className="card">
              <Facts
                rows={[
                  ["Node ID", <FullId key="id" value={node.id} label="node ID" />],
                  ["Farm", node.farm],
                  ["Location", `${node.country.toUpperCase()} · ${node.city}`],
                  ["Power", <><StateBadge state={node.powerState} /> <span className="hint">target {node.powerTarget}</span></>],
                  ["Uptime", uptime(node.uptimeSeconds)],
                  ["Registered at", <HeightLink key="r" height={node.registeredHeight} />],
                  ["Last report at", <HeightLink key="l" height={node.lastReportHeight} />],
                  ["Node key", <FullId key="k" value={node.nodeKey} label="node key" />],
                  ["Paid to", node.payoutAddress ? <Id key="p" kind="address" value={node.payoutAddress} /> : "—"],
                  ["Earned", <span key="e" data-testid="node-earned"><Amount value={node.earned} /></span>],
                ]}
              />
            </section>
            <section className="card">
              <h2>Capacity</h2>
              <CapacityBars capacity={node} testId="node-capacity" />
            </section>
            <section className="card">
              <h2>Workloads</h2>
              <WorkloadTable workloads={node.workloads} show="deployment" testId="node-workloads" />
            </section>
            <section className="card">
              <h2>Uptime reports</h2>
              <table data-testid="node-reports">
                <thead>
                  <tr>
                    <th scope="col">Height</th>
                    <th scope="col">Sequence</th>
                    <th scope="col">Uptime</th>
                    <th scope="col">Power</th>
                  </tr>
                </thead>
                <tbody>
                  {node.reports.map((report) => (
                    <tr key={`${report.height}/${report.sequence ?? "r"}`}>
                      <td>
                        <HeightLink height={report.height} />
                      </td>
                      <td>{report.sequence == null ? "registration" : groupDigits(String(report.sequence))}</td>
                      <td>{uptime(report.uptimeSeconds)}</td>
                      <td>
                        <StateBadge state={report.power} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </>
        );
      }}
    </Loaded>
  );
}
