// `/storage/node/:id`: one storage node — its failure domain, capacity,
// last signed report and the shards of live objects it holds.
import { Link, useParams } from "react-router-dom";
import { Facts, HeightLink, Loaded } from "../components";
import { formatBytes, groupDigits } from "../format";
import { useQuery } from "../hooks";
import { PublicKey } from "./IdentityCommon";
import { HealthBadge, LastReport, NODE_FIELDS, OwnerLink, type StorageNode } from "./StorageCommon";

const NODE = `query StorageNode($id: String!) { storageNode(id: $id) { ${NODE_FIELDS} } }`;

export function StorageNodePage() {
  const { id = "" } = useParams();
  const state = useQuery<{ storageNode: StorageNode | null }>(NODE, { id });
  return (
    <Loaded state={state} missing={(data) => (data.storageNode ? null : `No storage node has the ID “${id}”.`)}>
      {(data) => {
        const node = data.storageNode as StorageNode;
        const used = node.capacityBytes > 0 ? Math.round((node.usedBytes / node.capacityBytes) * 100) : 0;
        return (
          <>
            <h1>Storage node</h1>
            <p className="mono break">{node.id}</p>
            <div className="card" data-testid="storage-node">
              <Facts
                rows={[
                  ["State", <HealthBadge health={node.state} />],
                  [
                    "Failure domain",
                    <>
                      region {node.region} › datacenter {node.datacenter} › farm {node.farm}{" "}
                      <Link to="/storage" className="hint">
                        (all nodes)
                      </Link>
                    </>,
                  ],
                  ["Capacity", formatBytes(node.capacityBytes)],
                  ["Used", `${formatBytes(node.usedBytes)} (${used} %)`],
                  ["Free", formatBytes(node.freeBytes)],
                  ["Shards", groupDigits(String(node.shards))],
                  ["Endpoint", <span className="mono">{node.endpoint}</span>],
                  ["Owner", <OwnerLink id={node.owner} />],
                  ["Node key", <PublicKey value={node.nodeKey} />],
                  ["Registered at", <HeightLink height={node.registeredHeight} />],
                  ["Last report", <LastReport node={node} />],
                ]}
              />
            </div>
            <p className="hint">
              Used is the capacity minus the free bytes of the node's last report (signed by its node key); shards counts those of
              live objects the chain records on it.
            </p>
          </>
        );
      }}
    </Loaded>
  );
}
