// GraphQL over HTTP (queries) and over WebSocket (subscriptions, the
// graphql-transport-ws protocol that services/api speaks on /graphql/ws).
// The UI is served by the API itself, so both URLs are relative to the page.
import { createClient, type Client } from "graphql-ws";

/** The API did not answer (network error, 5xx, or a non-GraphQL reply). */
export class ApiDownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiDownError";
  }
}

/** The API answered with GraphQL errors (bad input, limits, ...). */
export class GraphqlError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = "GraphqlError";
    this.code = code;
  }
}

interface GraphqlResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function query<T>(
  text: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: text, variables }),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiDownError(`the API did not answer: ${String(error)}`);
  }
  if (response.status >= 500) {
    throw new ApiDownError(`the API answered HTTP ${response.status}`);
  }
  let body: GraphqlResponse<T>;
  try {
    body = (await response.json()) as GraphqlResponse<T>;
  } catch {
    throw new ApiDownError(`the API answered HTTP ${response.status} without GraphQL`);
  }
  if (body.errors && body.errors.length > 0) {
    const first = body.errors[0];
    const code = first.extensions?.code;
    if (code === "DATABASE_ERROR" || code === "MODEL_UNAVAILABLE") {
      throw new ApiDownError(first.message);
    }
    throw new GraphqlError(first.message, code);
  }
  if (!body.data) throw new ApiDownError("the API answered without data");
  return body.data;
}

let wsClient: Client | undefined;

function subscriptions(): Client {
  if (!wsClient) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    wsClient = createClient({
      url: `${scheme}//${location.host}/graphql/ws`,
      lazy: true,
      retryAttempts: Infinity,
      shouldRetry: () => true,
    });
  }
  return wsClient;
}

/** Subscribes; returns the function that ends the subscription. */
export function subscribe<T>(
  text: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (error: unknown) => void = () => {},
): () => void {
  return subscriptions().subscribe<T>(
    { query: text, variables },
    {
      next: (result) => {
        if (result.data) onData(result.data as T);
      },
      error: onError,
      complete: () => {},
    },
  );
}
