// `/compute`: capacity totals, a used-vs-free chart per node, and the
// nodes grouped by farm or by location (country, city) with capacity,
// power and their last report.
import { useState } from "react";
import { HeightLink, Loaded } from "../components";
import { useQuery } from "../hooks";
import { CapacityBars, DIMENSIONS, NODE_FIELDS, NodeLink, StateBadge, uptime, usedOfTotal, type Capacity, type ComputeNode } from "./ComputeCommon";

const CAPACITY_FIELDS = "coresTotal coresUsed coresFree memoryMibTotal memoryMibUsed memoryMibFree diskGibTotal diskGibUsed diskGibFree";

const COMPUTE = `query Compute {
  computeCapacity { nodes nodesReporting ${CAPACITY_FIELDS} }
  computeNodes(limit: 500) { ${NODE_FIELDS} }
}`;

interface Data {
  computeCapacity: Capacity & { nodes: number; nodesReporting: number };
  computeNodes: ComputeNode[];
}

type Grouping = "farm" | "location";

function groupKey(node: ComputeNode, grouping: Grouping): string {
  return grouping === "farm" ? node.farm : `${node.country.toUpperCase()} · ${node.city}`;
}

/** Nodes in groups (sorted by group, then ID), with capacity per node. */
function NodeGroups({ nodes, grouping }: { nodes: ComputeNode[]; grouping: Grouping }) {
  const groups = new Map<string, ComputeNode[]>();
  for (const node of nodes) {
    const key = groupKey(node, grouping);
    groups.set(key, [...(groups.get(key) ?? []), node]);
  }
  return (
    <table data-testid="compute-nodes">
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">{grouping === "farm" ? "Location" : "Farm"}</th>
          {DIMENSIONS.map((d) => (
            <th scope="col" key={d.key}>
              {d.label} used / total
            </th>
          ))}
          <th scope="col">Power</th>
          <th scope="col" className="wide">
            Uptime
          </th>
          <th scope="col" className="wide">
            Last report
          </th>
        </tr>
      </thead>
      {[...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, members]) => (
          <tbody key={key} data-group={key}>
            <tr className="group-row">
              <th scope="rowgroup" colSpan={8}>
                {key} <span className="hint">({members.length === 1 ? "1 node" : `${members.length} nodes`})</span>
              </th>
            </tr>
            {members.map((node) => (
              <tr key={node.id} data-node={node.id}>
                <td>
                  <NodeLink id={node.id} />
                </td>
                <td>{grouping === "farm" ? `${node.country.toUpperCase()} · ${node.city}` : node.farm}</td>
                {DIMENSIONS.map((d) => (
                  <td key={d.key} data-dimension={d.key}>
                    {usedOfTotal(node, d.key, d.unit)}
                  </td>
                ))}
                <td>
                  <StateBadge state={node.powerState} />
                  {node.powerTarget !== node.powerState && <span className="hint"> (target {node.powerTarget})</span>}
                </td>
                <td className="wide">{uptime(node.uptimeSeconds)}</td>
                <td className="wide">
                  <HeightLink height={node.lastReportHeight} />
                </td>
              </tr>
            ))}
          </tbody>
        ))}
    </table>
  );
}

/** One row of bars per node: used vs free in each dimension. */
function CapacityChart({ nodes }: { nodes: ComputeNode[] }) {
  return (
    <div className="capacity-chart" data-testid="capacity-chart">
      {nodes.map((node) => (
        <figure key={node.id} data-node={node.id}>
          <figcaption>
            <NodeLink id={node.id} /> {node.farm}, {node.country.toUpperCase()} · {node.city}
          </figcaption>
          <CapacityBars capacity={node} />
        </figure>
      ))}
    </div>
  );
}

/** Compute nodes and their capacity. */
export function ComputePage() {
  const state = useQuery<Data>(COMPUTE);
  const [grouping, setGrouping] = useState<Grouping>("farm");
  return (
    <>
      <h1>Compute</h1>
      <p>Compute nodes registered on chain, what their owners offer and what deployments reserve on them.</p>
      <Loaded state={state}>
        {(data) => (
          <>
            <section className="card" data-testid="capacity-totals">
              <h2>Capacity</h2>
              <p className="hint">
                {data.computeCapacity.nodes} nodes, {data.computeCapacity.nodesReporting} reporting
              </p>
              <CapacityBars capacity={data.computeCapacity} />
              <p className="hint">
                {DIMENSIONS.map((d) => `${d.label}: ${usedOfTotal(data.computeCapacity, d.key, d.unit)}`).join(" · ")}
              </p>
            </section>
            {data.computeNodes.length === 0 ? (
              <p className="hint">No compute nodes are registered yet.</p>
            ) : (
              <>
                <section className="card">
                  <div className="card-head">
                    <h2>Nodes</h2>
                    <div role="group" aria-label="Group nodes by">
                      <button type="button" aria-pressed={grouping === "farm"} onClick={() => setGrouping("farm")}>
                        By farm
                      </button>{" "}
                      <button type="button" aria-pressed={grouping === "location"} onClick={() => setGrouping("location")}>
                        By location
                      </button>
                    </div>
                  </div>
                  <NodeGroups nodes={data.computeNodes} grouping={grouping} />
                </section>
                <section className="card">
                  <h2>Used and free per node</h2>
                  <CapacityChart nodes={data.computeNodes} />
                </section>
              </>
            )}
          </>
        )}
      </Loaded>
    </>
  );
}
