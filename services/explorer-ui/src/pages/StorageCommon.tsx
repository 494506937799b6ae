// Shared by the storage pages: fields, types, links and small views.
import { Link } from "react-router-dom";
import { CopyButton, HeightLink, Time } from "../components";
import { shortId } from "../format";
import { useQuery } from "../hooks";
import { IdentityLink } from "./IdentityCommon";

export const NODE_FIELDS = `id owner nodeKey endpoint region datacenter farm domain capacityBytes freeBytes usedBytes state shards
  registeredHeight lastReportHeight lastReportAt`;

export const OBJECT_FIELDS = `id owner ownerKey size dataShards parityShards toleranceLevel toleranceDomains toleranceNodes policy
  chunkBytes contentHash keyFingerprint registeredHeight repairs deletedHeight health liveShards placementError movesWanted`;

export interface StorageNode {
  id: string;
  owner: string;
  nodeKey: string;
  endpoint: string;
  region: string;
  datacenter: string;
  farm: string;
  domain: string;
  capacityBytes: number;
  freeBytes: number;
  usedBytes: number;
  state: string;
  shards: number;
  registeredHeight: number;
  lastReportHeight: number | null;
  lastReportAt: number | null;
}

export interface StorageObject {
  id: string;
  owner: string;
  ownerKey: string;
  size: number;
  dataShards: number;
  parityShards: number;
  toleranceLevel: string;
  toleranceDomains: number;
  toleranceNodes: number;
  policy: string;
  chunkBytes: number;
  contentHash: string;
  keyFingerprint: string;
  registeredHeight: number;
  repairs: number;
  deletedHeight: number | null;
  health: string;
  liveShards: number;
  placementError: string | null;
  movesWanted: number;
}

export function storageNodeHref(id: string): string {
  return `/storage/node/${id}`;
}

export function storageObjectHref(id: string): string {
  return `/storage/object/${id}`;
}

/** A storage node or object ID: linked, shortened, copyable. */
export function StorageId({ kind, id }: { kind: "node" | "object"; id: string }) {
  return (
    <span className="id">
      <Link to={kind === "node" ? storageNodeHref(id) : storageObjectHref(id)} title={id} className="mono">
        {shortId(id)}
      </Link>
      <CopyButton text={id} label={`storage ${kind} ID`} />
    </span>
  );
}

/** An identity ID (hex) shown by its name, linked; the hex while unknown. */
export function OwnerLink({ id }: { id: string }) {
  const state = useQuery<{ identity: { name: string } | null }>(`query Owner($id: String!) { identity(id: $id) { name } }`, { id });
  const name = state.data?.identity?.name;
  return name ? (
    <IdentityLink name={name} />
  ) : (
    <span className="mono" title={id}>
      {shortId(id)}
    </span>
  );
}

/** `OPTIMAL` → “optimal”, `AT_RISK` → “at risk”, coloured by severity. */
export function HealthBadge({ health }: { health: string }) {
  const value = health.toLowerCase();
  return <span className={`badge badge-${value}`}>{value.replace(/_/g, " ")}</span>;
}

/** A hash or key (hex), shortened, copyable. */
export function HexValue({ value, label }: { value: string; label: string }) {
  return (
    <span className="id">
      <span className="mono" title={value}>
        {shortId(value)}
      </span>
      <CopyButton text={value} label={label} />
    </span>
  );
}

/** A node's last signed report: its block and time, or “none yet”. */
export function LastReport({ node }: { node: StorageNode }) {
  if (node.lastReportHeight === null) return <>none yet</>;
  return (
    <>
      block <HeightLink height={node.lastReportHeight} />
      {node.lastReportAt !== null && (
        <>
          {" "}
          (<Time unix={node.lastReportAt} />)
        </>
      )}
    </>
  );
}
