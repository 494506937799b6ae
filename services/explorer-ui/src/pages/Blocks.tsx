import { useSearchParams } from "react-router-dom";
import { HeightLink, Id, Loaded, Pager, Time, type PageInfo } from "../components";
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
              <table>
                <thead>
                  <tr>
                    <th scope="col">Height</th>
                    <th scope="col">Block</th>
                    <th scope="col">Age</th>
                    <th scope="col">Txs</th>
                    <th scope="col" className="wide">Size</th>
                    <th scope="col" className="wide">Staker</th>
                  </tr>
                </thead>
                <tbody>
                  {blocks.nodes.map((b) => (
                    <tr key={b.id}>
                      <td>
                        <HeightLink height={b.height} />
                      </td>
                      <td>
                        <Id kind="block" value={b.id} />
                      </td>
                      <td>
                        <Time unix={b.timestamp} />
                      </td>
                      <td>{b.transactionCount}</td>
                      <td className="wide">{groupDigits(String(b.size))} B</td>
                      <td className="wide">{b.staker ? <Id kind="address" value={b.staker} /> : "genesis"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
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
