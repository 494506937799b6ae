// `/storage/object/:id`: an object's public metadata and health. Its
// shard locations are private to the owner (the API's `shards` needs the
// owner's login token); the explorer has no login, so it says where the
// owner sees them.
import type { ReactNode } from "react";
import { useParams } from "react-router-dom";
import { Facts, HeightLink, Loaded } from "../components";
import { formatBytes } from "../format";
import { useQuery } from "../hooks";
import { PublicKey } from "./IdentityCommon";
import { HealthBadge, HexValue, OBJECT_FIELDS, OwnerLink, type StorageObject } from "./StorageCommon";

const OBJECT = `query StorageObject($id: String!) { storageObject(id: $id) { ${OBJECT_FIELDS} } }`;

const HEALTH: Record<string, string> = {
  OPTIMAL: "every shard is on a node that serves it",
  DEGRADED: "some shards are gone, more than k remain",
  AT_RISK: "exactly k shards remain: one more loss and it is gone",
  LOST: "fewer than k shards remain: it cannot be rebuilt",
  DELETED: "deleted by its owner",
};

export function StorageObjectPage() {
  const { id = "" } = useParams();
  const state = useQuery<{ storageObject: StorageObject | null }>(OBJECT, { id });
  return (
    <Loaded state={state} missing={(data) => (data.storageObject ? null : `No stored object has the ID “${id}”.`)}>
      {(data) => {
        const object = data.storageObject as StorageObject;
        const total = object.dataShards + object.parityShards;
        const extra: [string, ReactNode][] = [];
        if (object.deletedHeight !== null) extra.push(["Deleted at", <HeightLink height={object.deletedHeight} />]);
        if (object.placementError) extra.push(["Placement", object.placementError]);
        return (
          <>
            <h1>Stored object</h1>
            <p className="mono break">{object.id}</p>
            <div className="card" data-testid="storage-object">
              <Facts
                rows={[
                  [
                    "Health",
                    <>
                      <HealthBadge health={object.health} /> <span className="hint">{HEALTH[object.health] ?? ""}</span>
                    </>,
                  ],
                  ["Live shards", `${object.liveShards} of ${total} (any ${object.dataShards} rebuild it)`],
                  ["Policy", object.policy],
                  ["Size", formatBytes(object.size)],
                  ["Chunk size", formatBytes(object.chunkBytes)],
                  ["Owner", <OwnerLink id={object.owner} />],
                  ["Owner key", <PublicKey value={object.ownerKey} />],
                  ["Content hash", <HexValue value={object.contentHash} label="content hash" />],
                  ["Key fingerprint", <HexValue value={object.keyFingerprint} label="key fingerprint" />],
                  ["Registered at", <HeightLink height={object.registeredHeight} />],
                  ["Repairs", object.repairs],
                  ["Shards to move", object.movesWanted],
                  ...extra,
                ]}
              />
            </div>
            <section className="card" data-testid="storage-shards-private">
              <h2>Shard locations</h2>
              <p>
                Which nodes hold the {total} shards is visible to the owner only (the API answers it for the owner's login
                token). The explorer has no login: the owner sees them with <code>wallet stor status {object.id.slice(0, 12)}…</code>.
              </p>
            </section>
          </>
        );
      }}
    </Loaded>
  );
}
