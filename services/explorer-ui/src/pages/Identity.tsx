// `/identity/:name`: an identity's keys with their history, attributes
// (labels and commitments; values are never on chain), attestations,
// vouches, memberships, pending invitations and activity.
import { Link, useParams } from "react-router-dom";
import { Facts, HeightLink, Id, Loaded } from "../components";
import { groupDigits, kindLabel } from "../format";
import { useQuery } from "../hooks";
import {
  ACTIVITY_FIELDS,
  ActivityTable,
  Badge,
  IdentityLink,
  OrganizationLink,
  PublicKey,
  type Activity,
} from "./IdentityCommon";

interface Key {
  publicKey: string;
  status: string;
  addedBy: string;
  addedHeight: number;
  addedTransaction: string;
  replaces: string | null;
  replacedBy: string | null;
  retiredHeight: number | null;
  revokedHeight: number | null;
}

interface Attestation {
  label: string;
  status: string;
  attestedHeight: number;
  endedHeight: number | null;
  commitment: string;
  verifier: { name: string };
  subject: { name: string };
}

interface Vouch {
  weight: number;
  claim: string | null;
  vouchedHeight: number;
  voucher: { name: string };
  target: { name: string };
}

interface Data {
  identity: null | {
    id: string;
    name: string;
    registeredHeight: number;
    registeredTransaction: string;
    activeKeyCount: number;
    keys: { totalCount: number; nodes: Key[] };
    attributes: { label: string; commitment: string; addedHeight: number }[];
    attestations: { totalCount: number; nodes: Attestation[] };
    attestationsGiven: { totalCount: number; nodes: Attestation[] };
    vouchesReceived: { totalCount: number; nodes: Vouch[] };
    vouchesGiven: { totalCount: number; nodes: Vouch[] };
    memberships: { totalCount: number; nodes: { role: string; grantedHeight: number; organization: { path: string }; grantedBy: { name: string } }[] };
    pendingInvitations: { role: string; invitedHeight: number; organization: { path: string }; invitedBy: { name: string } }[];
    activity: { totalCount: number; nodes: Activity[] };
  };
}

const ATTESTATION_FIELDS = "totalCount nodes { label status attestedHeight endedHeight commitment verifier { name } subject { name } }";
const VOUCH_FIELDS = "totalCount nodes { weight claim vouchedHeight voucher { name } target { name } }";

const IDENTITY = `query Identity($name: String!) {
  identity(name: $name) {
    id name registeredHeight registeredTransaction activeKeyCount
    keys(first: 100) { totalCount nodes { publicKey status addedBy addedHeight addedTransaction replaces replacedBy retiredHeight revokedHeight } }
    attributes { label commitment addedHeight }
    attestations(first: 50) { ${ATTESTATION_FIELDS} }
    attestationsGiven(first: 50) { ${ATTESTATION_FIELDS} }
    vouchesReceived(first: 50) { ${VOUCH_FIELDS} }
    vouchesGiven(first: 50) { ${VOUCH_FIELDS} }
    memberships(first: 50) { totalCount nodes { role grantedHeight organization { path } grantedBy { name } } }
    pendingInvitations { role invitedHeight organization { path } invitedBy { name } }
    ${ACTIVITY_FIELDS}
  }
}`;

/** "3 of 5 shown" when a list has more than one page. */
function More({ shown, total }: { shown: number; total: number }) {
  return total > shown ? (
    <p className="hint">
      {shown} of {total} shown.
    </p>
  ) : null;
}

function KeyHistory({ k }: { k: Key }) {
  const added = k.addedBy === "registration" ? "registered" : k.addedBy === "rotation" ? "rotated in" : "added";
  return (
    <ul className="history">
      <li>
        {added} at <HeightLink height={k.addedHeight} /> by <Id kind="tx" value={k.addedTransaction} />
        {k.replaces && (
          <>
            , replacing <PublicKey value={k.replaces} />
          </>
        )}
      </li>
      {k.retiredHeight != null && (
        <li>
          rotated away at <HeightLink height={k.retiredHeight} />
          {k.replacedBy && (
            <>
              , replaced by <PublicKey value={k.replacedBy} />
            </>
          )}
        </li>
      )}
      {k.revokedHeight != null && (
        <li>
          revoked at <HeightLink height={k.revokedHeight} />
        </li>
      )}
    </ul>
  );
}

function Attestations({ rows, other, testId }: { rows: Attestation[]; other: "verifier" | "subject"; testId: string }) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{other === "verifier" ? "Verifier" : "Subject"}</th>
          <th scope="col">Attribute</th>
          <th scope="col">Status</th>
          <th scope="col">Attested</th>
          <th scope="col" className="wide">
            Commitment
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => (
          <tr key={`${a[other].name}-${a.label}-${a.attestedHeight}`}>
            <td>
              <IdentityLink name={a[other].name} />
            </td>
            <td className="mono">{a.label}</td>
            <td>
              <Badge status={a.status} />
              {a.endedHeight != null && (
                <>
                  {" "}
                  at <HeightLink height={a.endedHeight} />
                </>
              )}
            </td>
            <td>
              <HeightLink height={a.attestedHeight} />
            </td>
            <td className="wide">
              <PublicKey value={a.commitment} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Vouches({ rows, other, testId }: { rows: Vouch[]; other: "voucher" | "target"; testId: string }) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{other === "voucher" ? "From" : "For"}</th>
          <th scope="col">Weight</th>
          <th scope="col">Claim</th>
          <th scope="col">Since</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((v) => (
          <tr key={v[other].name}>
            <td>
              <IdentityLink name={v[other].name} />
            </td>
            <td>{v.weight} / 100</td>
            <td>{v.claim ?? <span className="muted">no claim</span>}</td>
            <td>
              <HeightLink height={v.vouchedHeight} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function IdentityPage() {
  const { name = "" } = useParams();
  const state = useQuery<Data>(IDENTITY, { name });
  return (
    <Loaded state={state} missing={(data) => (data.identity ? null : `No identity is named “${name}”.`)}>
      {({ identity: i }) =>
        i && (
          <>
            <h1>
              Identity <span className="mono">{i.name}</span>
            </h1>
            <section className="card" aria-label="Summary" data-testid="identity-summary">
              <Facts
                rows={[
                  ["Name", i.name],
                  ["ID", <PublicKey value={i.id} full />],
                  ["Status", i.activeKeyCount > 0 ? <Badge status="active" /> : <Badge status="no-active-key" />],
                  ["Active keys", groupDigits(String(i.activeKeyCount))],
                  ["Registered", <><HeightLink height={i.registeredHeight} /> by <Id kind="tx" value={i.registeredTransaction} /></>],
                  ["Compute", <Link to={`/compute/deployments/${encodeURIComponent(i.name)}`}>Deployments</Link>],
                ]}
              />
            </section>

            <section className="card" aria-labelledby="keys-title">
              <h2 id="keys-title">Keys ({i.keys.totalCount})</h2>
              <table data-testid="keys">
                <thead>
                  <tr>
                    <th scope="col">Public key</th>
                    <th scope="col">Status</th>
                    <th scope="col">History</th>
                  </tr>
                </thead>
                <tbody>
                  {i.keys.nodes.map((k) => (
                    <tr key={k.publicKey} data-status={k.status}>
                      <td>
                        <PublicKey value={k.publicKey} />
                      </td>
                      <td>
                        <Badge status={k.status} />
                      </td>
                      <td>
                        <KeyHistory k={k} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <More shown={i.keys.nodes.length} total={i.keys.totalCount} />
            </section>

            <section className="card" aria-labelledby="attributes-title">
              <h2 id="attributes-title">Attributes ({i.attributes.length})</h2>
              <p className="hint">
                Only a label and a salted commitment are on chain; the owner shows the value and its salt to whom they choose.
              </p>
              {i.attributes.length === 0 ? (
                <p className="hint">No attributes.</p>
              ) : (
                <table data-testid="attributes">
                  <thead>
                    <tr>
                      <th scope="col">Label</th>
                      <th scope="col">Commitment</th>
                      <th scope="col">Added</th>
                    </tr>
                  </thead>
                  <tbody>
                    {i.attributes.map((a) => (
                      <tr key={a.label}>
                        <td className="mono">{a.label}</td>
                        <td>
                          <PublicKey value={a.commitment} />
                        </td>
                        <td>
                          <HeightLink height={a.addedHeight} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>

            <section className="card" aria-labelledby="attestations-title">
              <h2 id="attestations-title">Attestations ({i.attestations.totalCount})</h2>
              {i.attestations.nodes.length === 0 ? (
                <p className="hint">No verifier has attested an attribute of {i.name}.</p>
              ) : (
                <Attestations rows={i.attestations.nodes} other="verifier" testId="attestations" />
              )}
              <More shown={i.attestations.nodes.length} total={i.attestations.totalCount} />
              {i.attestationsGiven.nodes.length > 0 && (
                <>
                  <h3>Made by {i.name} as a verifier</h3>
                  <Attestations rows={i.attestationsGiven.nodes} other="subject" testId="attestations-given" />
                  <More shown={i.attestationsGiven.nodes.length} total={i.attestationsGiven.totalCount} />
                </>
              )}
            </section>

            <section className="card" aria-labelledby="vouches-title">
              <h2 id="vouches-title">Vouches</h2>
              <h3>Received ({i.vouchesReceived.totalCount})</h3>
              {i.vouchesReceived.nodes.length === 0 ? (
                <p className="hint">Nobody vouches for {i.name}.</p>
              ) : (
                <Vouches rows={i.vouchesReceived.nodes} other="voucher" testId="vouches-received" />
              )}
              <More shown={i.vouchesReceived.nodes.length} total={i.vouchesReceived.totalCount} />
              <h3>Given ({i.vouchesGiven.totalCount})</h3>
              {i.vouchesGiven.nodes.length === 0 ? (
                <p className="hint">{i.name} vouches for nobody.</p>
              ) : (
                <Vouches rows={i.vouchesGiven.nodes} other="target" testId="vouches-given" />
              )}
              <More shown={i.vouchesGiven.nodes.length} total={i.vouchesGiven.totalCount} />
            </section>

            <section className="card" aria-labelledby="memberships-title">
              <h2 id="memberships-title">Memberships ({i.memberships.totalCount})</h2>
              <p className="hint">Roles held directly; owners of an organization also own every organization below it.</p>
              {i.memberships.nodes.length === 0 ? (
                <p className="hint">{i.name} holds no role.</p>
              ) : (
                <table data-testid="identity-memberships">
                  <thead>
                    <tr>
                      <th scope="col">Organization</th>
                      <th scope="col">Role</th>
                      <th scope="col">Since</th>
                      <th scope="col" className="wide">
                        Granted by
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {i.memberships.nodes.map((m) => (
                      <tr key={m.organization.path}>
                        <td>
                          <OrganizationLink path={m.organization.path} />
                        </td>
                        <td>{m.role}</td>
                        <td>
                          <HeightLink height={m.grantedHeight} />
                        </td>
                        <td className="wide">
                          <IdentityLink name={m.grantedBy.name} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <More shown={i.memberships.nodes.length} total={i.memberships.totalCount} />
              {i.pendingInvitations.length > 0 && (
                <>
                  <h3>Pending invitations</h3>
                  <ul data-testid="identity-invitations">
                    {i.pendingInvitations.map((n) => (
                      <li key={n.organization.path}>
                        {kindLabel(n.role)} of <OrganizationLink path={n.organization.path} />, invited by{" "}
                        <IdentityLink name={n.invitedBy.name} /> at <HeightLink height={n.invitedHeight} />
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </section>

            <section className="card" aria-labelledby="activity-title">
              <h2 id="activity-title">Activity</h2>
              <ActivityTable rows={i.activity.nodes} total={i.activity.totalCount} />
            </section>
          </>
        )
      }
    </Loaded>
  );
}

