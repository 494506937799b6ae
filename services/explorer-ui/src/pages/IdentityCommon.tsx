// Pieces shared by the identity and organization pages: links to
// identities and organizations, public keys, role holders and the
// activity feed.
import { Link } from "react-router-dom";
import { CopyButton, HeightLink, Id } from "../components";
import { kindLabel, shortId } from "../format";

/** A role holder or invitee as the API sends it (`RoleSubject`). */
export type Subject = { __typename: "Identity"; name: string } | { __typename: "Organization"; path: string };

/** The GraphQL selection for a `RoleSubject`. */
export const SUBJECT_FIELDS = "subject { __typename ... on Identity { name } ... on Organization { path } }";

export interface Activity {
  height: number;
  eventIndex: number;
  transactionId: string;
  kind: string;
}

export const ACTIVITY_FIELDS = "activity(first: 25) { totalCount nodes { height eventIndex transactionId kind } }";

export function identityHref(name: string): string {
  return `/identity/${encodeURIComponent(name)}`;
}

export function organizationHref(path: string): string {
  return `/organization/${encodeURIComponent(path)}`;
}

export function IdentityLink({ name }: { name: string }) {
  return (
    <Link to={identityHref(name)} className="name">
      {name}
    </Link>
  );
}

export function OrganizationLink({ path }: { path: string }) {
  return (
    <Link to={organizationHref(path)} className="name">
      {path}
    </Link>
  );
}

/** An identity or an organization, linked, with its kind in words. */
export function SubjectLink({ subject }: { subject: Subject }) {
  return subject.__typename === "Identity" ? (
    <>
      <IdentityLink name={subject.name} /> <span className="muted">(identity)</span>
    </>
  ) : (
    <>
      <OrganizationLink path={subject.path} /> <span className="muted">(organization)</span>
    </>
  );
}

/** A public key (hex), shortened unless `full`, copyable. */
export function PublicKey({ value, full = false }: { value: string; full?: boolean }) {
  return (
    <span className={full ? "id full" : "id"}>
      <span className="mono" title={value}>
        {full ? value : shortId(value)}
      </span>
      <CopyButton text={value} label="public key" />
    </span>
  );
}

/** A status word as a coloured badge (active, retired, revoked, …). */
export function Badge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{kindLabel(status)}</span>;
}

/** The newest changes concerning an identity or organization. */
export function ActivityTable({ rows, total }: { rows: Activity[]; total: number }) {
  if (rows.length === 0) return <p className="hint">No activity.</p>;
  return (
    <>
      <table data-testid="activity">
        <thead>
          <tr>
            <th scope="col">Block</th>
            <th scope="col">Change</th>
            <th scope="col">Transaction</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={`${row.height}-${row.eventIndex}`}>
              <td>
                <HeightLink height={row.height} />
              </td>
              <td>{kindLabel(row.kind)}</td>
              <td>
                <Id kind="tx" value={row.transactionId} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > rows.length && (
        <p className="hint">
          The latest {rows.length} of {total} changes.
        </p>
      )}
    </>
  );
}
