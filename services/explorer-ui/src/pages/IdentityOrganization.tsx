// `/organization/:path`: an organization's place in the tree (ancestors,
// sub-organizations, the whole subtree), its owners (here and inherited
// from above), members, pending invitations and activity.
import { Link, useParams } from "react-router-dom";
import { Facts, HeightLink, Id, Loaded } from "../components";
import { useQuery } from "../hooks";
import { buildTree, type TreeNode } from "../identity";
import {
  ACTIVITY_FIELDS,
  ActivityTable,
  IdentityLink,
  OrganizationLink,
  PublicKey,
  SUBJECT_FIELDS,
  SubjectLink,
  organizationHref,
  type Activity,
  type Subject,
} from "./IdentityCommon";

interface Role {
  role: string;
  grantedHeight: number;
  organization: { path: string };
  grantedBy: { name: string };
  subject: Subject;
}

interface Data {
  organization: null | {
    id: string;
    path: string;
    name: string;
    depth: number;
    createdHeight: number;
    createdTransaction: string;
    creator: { name: string };
    parent: { path: string } | null;
    children: { totalCount: number; nodes: { path: string }[] };
    descendants: { path: string; depth: number }[];
    roles: { totalCount: number; nodes: Role[] };
    owners: Role[];
    pendingInvitations: { role: string; invitedHeight: number; invitedBy: { name: string }; subject: Subject }[];
    activity: { totalCount: number; nodes: Activity[] };
  };
}

const ROLE_FIELDS = `role grantedHeight organization { path } grantedBy { name } ${SUBJECT_FIELDS}`;

const ORGANIZATION = `query Organization($path: String!) {
  organization(path: $path) {
    id path name depth createdHeight createdTransaction
    creator { name }
    parent { path }
    children(first: 100) { totalCount nodes { path } }
    descendants { path depth }
    roles(first: 100) { totalCount nodes { ${ROLE_FIELDS} } }
    owners { ${ROLE_FIELDS} }
    pendingInvitations { role invitedHeight invitedBy { name } ${SUBJECT_FIELDS} }
    ${ACTIVITY_FIELDS}
  }
}`;

/** `acme.sales.emea` → links to `acme`, `acme.sales`, `acme.sales.emea`. */
function Breadcrumbs({ path }: { path: string }) {
  const segments = path.split(".");
  return (
    <nav aria-label="Organization tree" className="breadcrumbs" data-testid="org-ancestors">
      {segments.map((segment, i) => {
        const prefix = segments.slice(0, i + 1).join(".");
        return (
          <span key={prefix}>
            {i > 0 && <span className="muted"> › </span>}
            {i === segments.length - 1 ? <strong>{segment}</strong> : <Link to={organizationHref(prefix)}>{segment}</Link>}
          </span>
        );
      })}
    </nav>
  );
}

function Tree({ nodes }: { nodes: TreeNode[] }) {
  return (
    <ul className="tree">
      {nodes.map((node) => (
        <li key={node.path}>
          <OrganizationLink path={node.path} />
          {node.children.length > 0 && <Tree nodes={node.children} />}
        </li>
      ))}
    </ul>
  );
}

function Roles({ rows, testId, showWhere }: { rows: Role[]; testId: string; showWhere: boolean }) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">Who</th>
          <th scope="col">Role</th>
          {showWhere && <th scope="col">Held in</th>}
          <th scope="col">Since</th>
          <th scope="col" className="wide">
            Granted by
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const who = r.subject.__typename === "Identity" ? r.subject.name : r.subject.path;
          return (
            <tr key={`${r.organization.path}-${r.subject.__typename}-${who}`}>
              <td>
                <SubjectLink subject={r.subject} />
              </td>
              <td>{r.role}</td>
              {showWhere && (
                <td>
                  <OrganizationLink path={r.organization.path} />
                </td>
              )}
              <td>
                <HeightLink height={r.grantedHeight} />
              </td>
              <td className="wide">
                <IdentityLink name={r.grantedBy.name} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function OrganizationPage() {
  const { path = "" } = useParams();
  const state = useQuery<Data>(ORGANIZATION, { path });
  return (
    <Loaded state={state} missing={(data) => (data.organization ? null : `No organization has the path “${path}”.`)}>
      {({ organization: o }) => {
        if (!o) return null;
        const members = o.roles.nodes.filter((r) => r.role !== "owner");
        const tree = buildTree(o.path, o.descendants.map((d) => d.path));
        return (
          <>
            <h1>
              Organization <span className="mono">{o.path}</span>
            </h1>
            <Breadcrumbs path={o.path} />
            <section className="card" aria-label="Summary">
              <Facts
                rows={[
                  ["Path", o.path],
                  ["ID", <PublicKey value={o.id} full />],
                  ["Parent", o.parent ? <OrganizationLink path={o.parent.path} /> : <span className="muted">none (top level)</span>],
                  ["Created", <><HeightLink height={o.createdHeight} /> by <Id kind="tx" value={o.createdTransaction} /></>],
                  ["Creator", <IdentityLink name={o.creator.name} />],
                ]}
              />
            </section>

            <section className="card" aria-labelledby="tree-title">
              <h2 id="tree-title">Sub-organizations ({o.children.totalCount})</h2>
              {tree.length === 0 ? (
                <p className="hint">No sub-organizations.</p>
              ) : (
                <div data-testid="org-tree">
                  <Tree nodes={tree} />
                </div>
              )}
            </section>

            <section className="card" aria-labelledby="owners-title">
              <h2 id="owners-title">Owners ({o.owners.length})</h2>
              <p className="hint">Owner roles held here and in every organization above (ownership is inherited down the tree).</p>
              {o.owners.length === 0 ? <p className="hint">No owners.</p> : <Roles rows={o.owners} testId="org-owners" showWhere />}
            </section>

            <section className="card" aria-labelledby="members-title">
              <h2 id="members-title">Members ({members.length})</h2>
              {members.length === 0 ? <p className="hint">No members hold a role here directly.</p> : <Roles rows={members} testId="org-members" showWhere={false} />}
              {o.roles.totalCount > o.roles.nodes.length && (
                <p className="hint">
                  The latest {o.roles.nodes.length} of {o.roles.totalCount} roles.
                </p>
              )}
            </section>

            <section className="card" aria-labelledby="invitations-title">
              <h2 id="invitations-title">Pending invitations ({o.pendingInvitations.length})</h2>
              {o.pendingInvitations.length === 0 ? (
                <p className="hint">No invitation waits for an answer.</p>
              ) : (
                <ul data-testid="org-invitations">
                  {o.pendingInvitations.map((n) => (
                    <li key={`${n.subject.__typename}-${n.subject.__typename === "Identity" ? n.subject.name : n.subject.path}`}>
                      <SubjectLink subject={n.subject} /> as {n.role}, invited by <IdentityLink name={n.invitedBy.name} /> at{" "}
                      <HeightLink height={n.invitedHeight} />
                    </li>
                  ))}
                </ul>
              )}
            </section>

            <section className="card" aria-labelledby="org-activity-title">
              <h2 id="org-activity-title">Activity</h2>
              <ActivityTable rows={o.activity.nodes} total={o.activity.totalCount} />
            </section>
          </>
        );
      }}
    </Loaded>
  );
}
