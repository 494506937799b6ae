import { useSearchParams } from "react-router-dom";
import { BlockTable, Loaded, Pager, type PageInfo } from "../components";
import { groupDigits } from "../format";
import { useQuery } from "../hooks";

interface Data {
  blocks: {
    totalCount: number;
    pageInfo: PageInfo;
    nodes: { height: number; id: string; timestamp: number; transactionCount: number; size: number; fees: string; staker: string | null }[];
  };
}

const BLOCKS = `query Blocks($first: Int, $after: String, $last: Int, $before: String) {
  blocks(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { height id timestamp transactionCount size fees staker }
  }
}`;

const PAGE = 25;

export function BlocksPage() {
  const [params, setParams] = useSearchParams();
  const after = params.get("after");
  const before = params.get("before");
  const variables = before ? { last: PAGE, before } : { first: PAGE, after };
  const state = useQuery<Data>(BLOCKS, variables);
  const first = !after && !before;
  return (
    <>
      <h1>Blocks</h1>
      <Loaded state={state}>
        {({ blocks }) => {
          const { pageInfo } = blocks;
          const hasNewer = before ? pageInfo.hasPreviousPage : !first;
          return (
            <section className="card">
              <p className="hint">{groupDigits(String(blocks.totalCount))} blocks, newest first.</p>
              <BlockTable blocks={blocks.nodes} />
              <Pager
                label="Blocks"
                info={pageInfo}
                onNewer={hasNewer && pageInfo.startCursor ? () => setParams({ before: pageInfo.startCursor ?? "" }) : undefined}
                onOlder={(cursor) => setParams({ after: cursor })}
              />
            </section>
          );
        }}
      </Loaded>
    </>
  );
}
