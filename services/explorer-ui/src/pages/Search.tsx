import { useEffect, useState } from "react";
import { Navigate, useSearchParams } from "react-router-dom";
import { query } from "../api";
import { ErrorView, Loading, NotFound } from "../components";
import { classifySearch } from "../format";
import { identityHref, organizationHref } from "./IdentityCommon";
import { storageNodeHref, storageObjectHref } from "./StorageCommon";

type Hit =
  | { __typename: "Block"; height: number }
  | { __typename: "Transaction"; id: string }
  | { __typename: "Output"; id: string }
  | { __typename: "AddressInfo"; address: string }
  | { __typename: "Identity"; name: string }
  | { __typename: "Organization"; path: string }
  | { __typename: "StorageNode"; id: string }
  | { __typename: "StorageObject"; id: string }
  | { __typename: "Deployment"; id: string }
  | { __typename: "ComputeNode"; id: string };

const SEARCH = `query Search($term: String!) {
  search(term: $term) {
    __typename
    ... on Block { height }
    ... on Transaction { id }
    ... on Output { id }
    ... on AddressInfo { address }
    ... on Identity { name }
    ... on Organization { path }
  }
}`;

// A 64-digit ID may also name a deployment (its ID is its creating
// transaction's: the deployment wins), a compute node, a storage node or
// a stored object.
const BY_ID = `query SearchById($id: String!) {
  deployment(id: $id) { __typename id }
  computeNode(id: $id) { __typename id }
  storageNode(id: $id) { __typename id }
  storageObject(id: $id) { __typename id }
}`;

interface ById {
  deployment: Hit | null;
  computeNode: Hit | null;
  storageNode: Hit | null;
  storageObject: Hit | null;
}

/** `search`, and for a 64-digit ID the domain IDs too. */
async function find(term: string, isId: boolean, signal: AbortSignal): Promise<Hit | null> {
  if (!isId) return (await query<{ search: Hit | null }>(SEARCH, { term }, signal)).search;
  const [{ search }, byId] = await Promise.all([
    query<{ search: Hit | null }>(SEARCH, { term }, signal),
    query<ById>(BY_ID, { id: term }, signal),
  ]);
  return byId.deployment ?? search ?? byId.computeNode ?? byId.storageNode ?? byId.storageObject;
}

function target(hit: Hit): string {
  switch (hit.__typename) {
    case "Block":
      return `/block/${hit.height}`;
    case "Transaction":
      return `/tx/${hit.id}`;
    case "Output":
      return `/output/${hit.id}`;
    case "AddressInfo":
      return `/address/${hit.address}`;
    case "Identity":
      return identityHref(hit.name);
    case "Organization":
      return organizationHref(hit.path);
    case "StorageNode":
      return storageNodeHref(hit.id);
    case "StorageObject":
      return storageObjectHref(hit.id);
    case "Deployment":
      return `/compute/deployment/${hit.id}`;
    case "ComputeNode":
      return `/compute/node/${hit.id}`;
  }
}

/** Resolves `?q=` with the API's `search` and goes to what it found. */
export function SearchPage() {
  const [params] = useSearchParams();
  const term = params.get("q") ?? "";
  const classified = classifySearch(term);
  const [result, setResult] = useState<{ term: string; hit?: Hit | null; error?: unknown }>();
  useEffect(() => {
    if (classified.kind === "invalid") return;
    const controller = new AbortController();
    find(term.trim(), classified.kind === "id", controller.signal).then(
      (hit) => setResult({ term, hit }),
      (error: unknown) => {
        if (!controller.signal.aborted) setResult({ term, error });
      },
    );
    return () => controller.abort();
  }, [term, classified.kind]);
  if (classified.kind === "invalid") return <NotFound what={classified.reason} />;
  if (!result || result.term !== term) return <Loading />;
  if (result.error) return <ErrorView error={result.error} />;
  if (!result.hit)
    return (
      <NotFound
        what={
          classified.kind === "name"
            ? `No identity or organization is named “${term.trim()}”.`
            : `Nothing on chain matches “${term}”.`
        }
      />
    );
  return <Navigate to={target(result.hit)} replace />;
}
