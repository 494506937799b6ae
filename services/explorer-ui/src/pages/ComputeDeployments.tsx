// `/compute/deployments/:owner`: an owner's deployments (owner = identity
// name or ID), with status, price, balance and workloads.
import { Link, useParams } from "react-router-dom";
import { Amount, HeightLink, Loaded } from "../components";
import { useQuery } from "../hooks";
import { identityHref } from "./IdentityCommon";
import { DeploymentLink, StateBadge } from "./ComputeCommon";

const DEPLOYMENTS = `query Deployments($owner: String!) {
  deployments(owner: $owner, includeCanceled: true, limit: 500) {
    id name status cancelCause pricePerBlock balance billedTo graceSince createdHeight
    workloads { name desiredState reportedState }
  }
}`;

export interface DeploymentSummary {
  id: string;
  name: string;
  status: string;
  cancelCause: string | null;
  pricePerBlock: string;
  balance: string;
  billedTo: number;
  graceSince: number | null;
  createdHeight: number;
  workloads: { name: string; desiredState: string; reportedState: string | null }[];
}

/** How many workloads report `running` of those meant to run. */
function running(deployment: DeploymentSummary): string {
  const desired = deployment.workloads.filter((w) => w.desiredState === "running");
  const up = desired.filter((w) => w.reportedState === "running").length;
  return `${up} / ${desired.length} running`;
}

export function ComputeDeploymentsPage() {
  const { owner = "" } = useParams();
  const state = useQuery<{ deployments: DeploymentSummary[] }>(DEPLOYMENTS, { owner });
  return (
    <>
      <h1>Deployments of {owner}</h1>
      <p className="breadcrumbs">
        <Link to={identityHref(owner)}>Identity {owner}</Link> · <Link to="/compute">Compute</Link>
      </p>
      <Loaded state={state}>
        {(data) =>
          data.deployments.length === 0 ? (
            <p className="hint">{owner} has no deployments.</p>
          ) : (
            <section className="card">
              <table data-testid="deployments">
                <thead>
                  <tr>
                    <th scope="col">Deployment</th>
                    <th scope="col">Status</th>
                    <th scope="col">Workloads</th>
                    <th scope="col">Price per block</th>
                    <th scope="col">Balance</th>
                    <th scope="col" className="wide">
                      Created at
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.deployments.map((d) => (
                    <tr key={d.id} data-deployment={d.id}>
                      <td>
                        <DeploymentLink id={d.id} name={d.name} />
                      </td>
                      <td>
                        <StateBadge state={d.status} />
                        {d.cancelCause && <span className="hint"> {d.cancelCause.replace(/_/g, " ")}</span>}
                        {d.graceSince != null && (
                          <span className="warn">
                            {" "}
                            unpaid since <HeightLink height={d.graceSince} />
                          </span>
                        )}
                      </td>
                      <td>{running(d)}</td>
                      <td>
                        <Amount value={d.pricePerBlock} />
                      </td>
                      <td>
                        <Amount value={d.balance} />
                      </td>
                      <td className="wide">
                        <HeightLink height={d.createdHeight} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )
        }
      </Loaded>
    </>
  );
}
