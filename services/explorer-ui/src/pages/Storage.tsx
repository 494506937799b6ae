// `/storage`: storage nodes by failure domain (regions → datacenters →
// farms → nodes) with capacity and health, the storage overhead of the
// live objects against 3× replication, "what if datacenter D is lost",
// and an object lookup.
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { Loaded } from "../components";
import { formatBytes, formatRatio } from "../format";
import { useQuery } from "../hooks";
import { HealthBadge, LastReport, NODE_FIELDS, StorageId, storageObjectHref, type StorageNode } from "./StorageCommon";

interface Totals {
  nodes: number;
  healthyNodes: number;
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  shards: number;
}

interface Region {
  name: string;
  totals: Totals;
  datacenters: { name: string; path: string; totals: Totals; farms: { name: string; path: string; nodes: StorageNode[] }[] }[];
}

interface Overhead {
  dataShards: number;
  parityShards: number;
  objects: number;
  bytes: number;
  storedBytes: number;
  replicatedBytes: number;
  overhead: number;
  replicationOverhead: number;
  savingFactor: number;
}

interface Loss {
  datacenter: string;
  nodes: number;
  objectsTouched: number;
  lostCount: number;
  objectsLost: { survivingShards: number; neededShards: number; object: { id: string; policy: string; health: string } }[];
}

const TOTALS = "totals { nodes healthyNodes capacityBytes usedBytes freeBytes shards }";

const DOMAINS = `query StorageDomains {
  storageDomains {
    name ${TOTALS}
    datacenters { name path ${TOTALS} farms { name path nodes { ${NODE_FIELDS} } } }
  }
}`;

const OVERHEAD_FIELDS = "dataShards parityShards objects bytes storedBytes replicatedBytes overhead replicationOverhead savingFactor";

const OVERHEAD = `query StorageOverhead {
  storageOverhead { policies { ${OVERHEAD_FIELDS} } total { ${OVERHEAD_FIELDS} } }
}`;

const WHAT_IF = `query WhatIfDatacenterLost($datacenter: String!) {
  whatIfDatacenterLost(datacenter: $datacenter) {
    datacenter nodes objectsTouched lostCount
    objectsLost { survivingShards neededShards object { id policy health } }
  }
}`;

function TotalsLine({ totals }: { totals: Totals }) {
  return (
    <span className="hint">
      {totals.nodes} {totals.nodes === 1 ? "node" : "nodes"} ({totals.healthyNodes} taking new shards) ·{" "}
      {formatBytes(totals.capacityBytes)} capacity · {formatBytes(totals.usedBytes)} used · {formatBytes(totals.freeBytes)} free ·{" "}
      {totals.shards} shards
    </span>
  );
}

function NodeTable({ farms }: { farms: Region["datacenters"][number]["farms"] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Farm</th>
          <th scope="col">Node</th>
          <th scope="col">State</th>
          <th scope="col">Capacity</th>
          <th scope="col">Used</th>
          <th scope="col">Free</th>
          <th scope="col">Shards</th>
          <th scope="col" className="wide">
            Last report
          </th>
        </tr>
      </thead>
      <tbody>
        {farms.flatMap((farm) =>
          farm.nodes.map((node) => (
            <tr key={node.id} data-node={node.id}>
              <td>{farm.name}</td>
              <td>
                <StorageId kind="node" id={node.id} />
              </td>
              <td>
                <HealthBadge health={node.state} />
              </td>
              <td>{formatBytes(node.capacityBytes)}</td>
              <td>{formatBytes(node.usedBytes)}</td>
              <td>{formatBytes(node.freeBytes)}</td>
              <td>{node.shards}</td>
              <td className="wide">
                <LastReport node={node} />
              </td>
            </tr>
          )),
        )}
      </tbody>
    </table>
  );
}

function Domains({ regions }: { regions: Region[] }) {
  if (regions.length === 0) return <p className="hint">No storage nodes are registered.</p>;
  return (
    <div data-testid="storage-domains">
      {regions.map((region) => (
        <section key={region.name} className="card" data-region={region.name}>
          <h3>
            Region {region.name} <TotalsLine totals={region.totals} />
          </h3>
          {region.datacenters.map((datacenter) => (
            <section key={datacenter.path} data-testid="storage-datacenter" data-datacenter={datacenter.path}>
              <h4>
                Datacenter {datacenter.path} <TotalsLine totals={datacenter.totals} />
              </h4>
              <NodeTable farms={datacenter.farms} />
            </section>
          ))}
        </section>
      ))}
    </div>
  );
}

function OverheadTable() {
  const state = useQuery<{ storageOverhead: { policies: Overhead[]; total: Overhead } }>(OVERHEAD);
  return (
    <Loaded state={state}>
      {({ storageOverhead: { policies, total } }) =>
        total.objects === 0 ? (
          <p className="hint">No live objects yet.</p>
        ) : (
          <table data-testid="storage-overhead">
            <thead>
              <tr>
                <th scope="col">Policy (k+m)</th>
                <th scope="col">Objects</th>
                <th scope="col">Data</th>
                <th scope="col">Stored</th>
                <th scope="col">Overhead</th>
                <th scope="col">3× replication</th>
                <th scope="col">Saving vs 3×</th>
              </tr>
            </thead>
            <tbody>
              {[...policies.map((row) => ({ label: `${row.dataShards}+${row.parityShards}`, row })), { label: "total", row: total }].map(
                ({ label, row }) => (
                  <tr key={label} data-policy={label}>
                    <th scope="row">{label}</th>
                    <td>{row.objects}</td>
                    <td>{formatBytes(row.bytes)}</td>
                    <td>{formatBytes(row.storedBytes)}</td>
                    <td>{formatRatio(row.overhead)}</td>
                    <td>
                      {formatBytes(row.replicatedBytes)} ({formatRatio(row.replicationOverhead)})
                    </td>
                    <td>{formatRatio(row.savingFactor)} fewer bytes</td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        )
      }
    </Loaded>
  );
}

function WhatIf({ datacenter }: { datacenter: string }) {
  const state = useQuery<{ whatIfDatacenterLost: Loss }>(WHAT_IF, { datacenter });
  return (
    <Loaded state={state}>
      {({ whatIfDatacenterLost: loss }) => (
        <div data-testid="storage-what-if" aria-live="polite">
          <p>
            Losing {loss.datacenter} ({loss.nodes} {loss.nodes === 1 ? "node" : "nodes"}) touches {loss.objectsTouched}{" "}
            {loss.objectsTouched === 1 ? "object" : "objects"}.
          </p>
          {loss.lostCount === 0 ? (
            <p className="ok" data-testid="storage-what-if-empty">
              No object would fall below the k shards it needs: placement keeps at most as many shards of an object in one
              datacenter as the object can lose, so every object keeps k shards on serving nodes elsewhere.
            </p>
          ) : (
            <>
              <p className="warn">
                {loss.lostCount} {loss.lostCount === 1 ? "object" : "objects"} would fall below the k shards needed to rebuild
                {loss.lostCount === 1 ? " it" : " them"} (shards on nodes that are leaving or already lost count as gone):
              </p>
              <table data-testid="storage-what-if-lost">
                <thead>
                  <tr>
                    <th scope="col">Object</th>
                    <th scope="col">Policy</th>
                    <th scope="col">Health now</th>
                    <th scope="col">Shards left</th>
                  </tr>
                </thead>
                <tbody>
                  {loss.objectsLost.map((item) => (
                    <tr key={item.object.id} data-object={item.object.id}>
                      <td>
                        <StorageId kind="object" id={item.object.id} />
                      </td>
                      <td>{item.object.policy}</td>
                      <td>
                        <HealthBadge health={item.object.health} />
                      </td>
                      <td>
                        {item.survivingShards} of {item.neededShards} needed
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {loss.lostCount > loss.objectsLost.length && (
                <p className="hint">
                  The {loss.objectsLost.length} most damaged of {loss.lostCount}.
                </p>
              )}
            </>
          )}
        </div>
      )}
    </Loaded>
  );
}

function WhatIfSection({ regions }: { regions: Region[] }) {
  const datacenters = regions.flatMap((region) => region.datacenters.map((datacenter) => datacenter.path));
  const [chosen, setChosen] = useState("");
  if (datacenters.length === 0) return <p className="hint">No datacenter has storage nodes.</p>;
  return (
    <>
      <label>
        Datacenter{" "}
        <select value={chosen} onChange={(event) => setChosen(event.target.value)}>
          <option value="">Choose a datacenter…</option>
          {datacenters.map((path) => (
            <option key={path} value={path}>
              {path}
            </option>
          ))}
        </select>
      </label>
      {chosen && <WhatIf datacenter={chosen} />}
    </>
  );
}

function ObjectLookup() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) navigate(storageObjectHref(text.trim().toLowerCase()));
  };
  return (
    <form onSubmit={submit}>
      <label>
        Object ID{" "}
        <input
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder="64 hexadecimal digits"
          spellCheck={false}
          autoComplete="off"
        />
      </label>{" "}
      <button type="submit">Show</button>
    </form>
  );
}

/** Zero storage: nodes by failure domain, overhead, what-if, object lookup. */
export function StoragePage() {
  const state = useQuery<{ storageDomains: Region[] }>(DOMAINS);
  return (
    <>
      <h1>Storage</h1>
      <p>
        Objects are Reed–Solomon coded into k data and m parity shards spread over storage nodes, so that they survive the loss
        of whole failure domains; placement is derived from the chain. Object contents and shard locations stay private to
        their owners.
      </p>
      <Loaded state={state}>
        {({ storageDomains: regions }) => (
          <>
            <section>
              <h2>Nodes by failure domain</h2>
              <Domains regions={regions} />
            </section>
            <section className="card">
              <h2>What if a datacenter is lost?</h2>
              <p className="hint">The live objects that would keep fewer than the k shards they need.</p>
              <WhatIfSection regions={regions} />
            </section>
          </>
        )}
      </Loaded>
      <section>
        <h2>Storage overhead versus 3× replication</h2>
        <OverheadTable />
      </section>
      <section className="card">
        <h2>Object health</h2>
        <ObjectLookup />
      </section>
    </>
  );
}
