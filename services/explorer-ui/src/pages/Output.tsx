import { useParams } from "react-router-dom";
import { Amount, Condition, Facts, HeightLink, Id, Loaded } from "../components";
import { type ConditionInfo } from "../format";
import { useQuery } from "../hooks";
import { CONDITION_FIELDS } from "./Transaction";

interface Data {
  output: null | {
    id: string;
    currency: string;
    origin: string;
    blockHeight: number;
    transactionId: string | null;
    index: number;
    value: string;
    address: string;
    maturesAt: number | null;
    spent: boolean;
    spentBy: string | null;
    spentAt: number | null;
    condition: ConditionInfo;
  };
}

const OUTPUT = `query Output($id: String!) {
  output(id: $id) {
    id currency origin blockHeight transactionId index value address maturesAt spent spentBy spentAt
    ${CONDITION_FIELDS}
  }
}`;

export function OutputPage() {
  const { id = "" } = useParams();
  const state = useQuery<Data>(OUTPUT, { id });
  return (
    <Loaded state={state} missing={(data) => (data.output ? null : `No output ${id}.`)}>
      {({ output: o }) =>
        o && (
          <>
            <h1>{o.currency === "BLOCKSTAKE" ? "Blockstake" : "Coin"} output</h1>
            <section className="card">
              <Facts
                rows={[
                  ["ID", <Id kind="output" value={o.id} full link={false} />],
                  ["Value", <Amount value={o.value} unit={o.currency === "BLOCKSTAKE" ? "blockstakes" : "coins"} />],
                  ["Address", <Id kind="address" value={o.address} />],
                  ["Spendable by", <Condition condition={o.condition} owner={o.address} />],
                  ["Origin", o.origin],
                  ["Created in", o.transactionId ? <Id kind="tx" value={o.transactionId} /> : <HeightLink height={o.blockHeight} />],
                  ["Block", <HeightLink height={o.blockHeight} />],
                  ["Matures at", o.maturesAt == null ? "–" : <HeightLink height={o.maturesAt} />],
                  ["Status", o.spent && o.spentBy ? <>spent by <Id kind="tx" value={o.spentBy} /> in block {o.spentAt}</> : "unspent"],
                ]}
              />
            </section>
          </>
        )
      }
    </Loaded>
  );
}
