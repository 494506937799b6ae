// Pieces shared by the compute pages: the GraphQL selections, capacity
// bars (used vs free, plain CSS), uptime in words, workload tables and
// links to nodes and deployments.
import { Link } from "react-router-dom";
import { CopyButton, HeightLink } from "../components";
import { groupDigits, shortId } from "../format";

export interface Workload {
  name: string;
  cores: number;
  memoryMib: number;
  diskGib: number;
  image: string;
  network: string | null;
  antiAffinity: string | null;
  desiredState: string;
  reportedState: string | null;
  reportedReason: string | null;
  reportedHeight: number | null;
  placedHeight: number;
  removedHeight: number | null;
  deployment: string;
  node: string | null;
}

export const WORKLOAD_FIELDS =
  "name cores memoryMib diskGib image network antiAffinity desiredState reportedState reportedReason reportedHeight placedHeight removedHeight deployment node";

export interface ComputeNode {
  id: string;
  owner: string;
  farm: string;
  country: string;
  city: string;
  coresTotal: number;
  memoryMibTotal: number;
  diskGibTotal: number;
  coresUsed: number;
  memoryMibUsed: number;
  diskGibUsed: number;
  coresFree: number;
  memoryMibFree: number;
  diskGibFree: number;
  powerTarget: string;
  powerState: string;
  uptimeSeconds: number;
  registeredHeight: number;
  lastReportHeight: number;
}

export const NODE_FIELDS =
  "id owner farm country city coresTotal memoryMibTotal diskGibTotal coresUsed memoryMibUsed diskGibUsed coresFree memoryMibFree diskGibFree powerTarget powerState uptimeSeconds registeredHeight lastReportHeight";

/** Totals or one node: the three dimensions the chain accounts. */
export interface Capacity {
  coresTotal: number;
  coresUsed: number;
  coresFree: number;
  memoryMibTotal: number;
  memoryMibUsed: number;
  memoryMibFree: number;
  diskGibTotal: number;
  diskGibUsed: number;
  diskGibFree: number;
}

export const DIMENSIONS = [
  { key: "cores", label: "Cores", unit: "" },
  { key: "memoryMib", label: "Memory", unit: "MiB" },
  { key: "diskGib", label: "Disk", unit: "GiB" },
] as const;

type Dimension = (typeof DIMENSIONS)[number]["key"];

function amounts(capacity: Capacity, dimension: Dimension): { total: number; used: number; free: number } {
  switch (dimension) {
    case "cores":
      return { total: capacity.coresTotal, used: capacity.coresUsed, free: capacity.coresFree };
    case "memoryMib":
      return { total: capacity.memoryMibTotal, used: capacity.memoryMibUsed, free: capacity.memoryMibFree };
    case "diskGib":
      return { total: capacity.diskGibTotal, used: capacity.diskGibUsed, free: capacity.diskGibFree };
  }
}

/** `1,024 MiB`, `16` (cores). */
export function quantity(value: number, unit: string): string {
  const text = groupDigits(String(value));
  return unit ? `${text} ${unit}` : text;
}

/** `"used / total"` in one dimension, e.g. `"5 / 16"` or `"120 / 1,000 GiB"`. */
export function usedOfTotal(capacity: Capacity, dimension: Dimension, unit: string): string {
  const { total, used } = amounts(capacity, dimension);
  return `${groupDigits(String(used))} / ${quantity(total, unit)}`;
}

/** A horizontal bar: the used share filled, the free share empty. */
export function CapacityBar({ capacity, dimension, label }: { capacity: Capacity; dimension: Dimension; label: string }) {
  const { total, used, free } = amounts(capacity, dimension);
  const unit = DIMENSIONS.find((d) => d.key === dimension)?.unit ?? "";
  const share = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  const text = `${label}: ${quantity(used, unit)} used, ${quantity(free, unit)} free of ${quantity(total, unit)}`;
  return (
    <div className="capacity" data-dimension={dimension} data-used={used} data-free={free} data-total={total}>
      <span className="capacity-label">{label}</span>
      <span className="bar" role="img" aria-label={text} title={text}>
        <span className="bar-used" style={{ width: `${share}%` }} />
      </span>
      <span className="capacity-text">
        {quantity(used, unit)} used · {quantity(free, unit)} free
      </span>
    </div>
  );
}

/** Three bars (cores, memory, disk). */
export function CapacityBars({ capacity, testId }: { capacity: Capacity; testId?: string }) {
  return (
    <div className="capacity-bars" data-testid={testId}>
      {DIMENSIONS.map((d) => (
        <CapacityBar key={d.key} capacity={capacity} dimension={d.key} label={d.label} />
      ))}
    </div>
  );
}

/** Seconds up in words: `"2 h 5 min"`, `"3 d 4 h"`, `"40 s"`. */
export function uptime(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60) % 60;
  const hours = Math.floor(seconds / 3600) % 24;
  const days = Math.floor(seconds / 86400);
  if (days > 0) return hours ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  return `${minutes} min`;
}

export function NodeLink({ id }: { id: string }) {
  return (
    <span className="id">
      <Link to={`/compute/node/${id}`} className="mono" title={id}>
        {shortId(id)}
      </Link>
      <CopyButton text={id} label="node ID" />
    </span>
  );
}

export function DeploymentLink({ id, name }: { id: string; name?: string }) {
  return (
    <span className="id">
      <Link to={`/compute/deployment/${id}`} className={name ? undefined : "mono"} title={id}>
        {name ?? shortId(id)}
      </Link>
      <CopyButton text={id} label="deployment ID" />
    </span>
  );
}

/** A hex value in full, copyable (node IDs and keys have no page of their own kind). */
export function FullId({ value, label }: { value: string; label: string }) {
  return (
    <span className="id full">
      <span className="mono">{value}</span>
      <CopyButton text={value} label={label} />
    </span>
  );
}

/** A state as a badge: `running`, `error`, `deleted`, … */
export function StateBadge({ state }: { state: string | null }) {
  return <span className={`badge badge-${state ?? "none"}`}>{state ?? "no report yet"}</span>;
}

/** Workloads: size, desired and reported state; the node or the deployment. */
export function WorkloadTable({ workloads, show, testId }: { workloads: Workload[]; show: "node" | "deployment"; testId: string }) {
  if (workloads.length === 0) return <p className="hint">No workloads.</p>;
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">Workload</th>
          <th scope="col">{show === "node" ? "Node" : "Deployment"}</th>
          <th scope="col">Cores</th>
          <th scope="col">Memory</th>
          <th scope="col">Disk</th>
          <th scope="col" className="wide">
            Image
          </th>
          <th scope="col">Desired</th>
          <th scope="col">Reported</th>
        </tr>
      </thead>
      <tbody>
        {workloads.map((w) => (
          <tr key={`${w.deployment}/${w.name}`} data-workload={w.name} data-reported={w.reportedState ?? ""}>
            <td>{w.name}</td>
            <td>{show === "node" ? w.node ? <NodeLink id={w.node} /> : "–" : <DeploymentLink id={w.deployment} />}</td>
            <td>{w.cores}</td>
            <td>{quantity(w.memoryMib, "MiB")}</td>
            <td>{quantity(w.diskGib, "GiB")}</td>
            <td className="wide mono">{w.image}</td>
            <td>
              <StateBadge state={w.desiredState} />
            </td>
            <td>
              <StateBadge state={w.reportedState} />
              {w.reportedReason && <span className="reason"> {w.reportedReason}</span>}
              {w.reportedHeight != null && (
                <span className="hint">
                  {" "}
                  at <HeightLink height={w.reportedHeight} />
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
