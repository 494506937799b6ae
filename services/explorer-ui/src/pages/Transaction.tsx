import { useState } from "react";
import { useParams } from "react-router-dom";
import { Amount, Condition, Facts, HeightLink, Id, Loaded, Time } from "../components";
import { describeFulfillment, groupDigits, hexToText, kindLabel, type ConditionInfo } from "../format";
import { useQuery } from "../hooks";

export const CONDITION_FIELDS = `condition {
  type timelock timelockKind timelockInnerType multisigRequired multisigKeyCount multisigMembers
  swapSender swapReceiver swapHashedSecret swapTimelock
}`;

interface Input {
  currency: string;
  index: number;
  parentId: string;
  value: string;
  address: string;
  fulfillmentType: string;
  publicKeys: string[];
  secret: string | null;
}

interface OutputRow {
  id: string;
  currency: string;
  origin: string;
  value: string;
  address: string;
  spent: boolean;
  spentBy: string | null;
  condition: ConditionInfo;
}

interface Data {
  transaction: null | {
    id: string;
    blockHeight: number;
    index: number;
    kind: string;
    fee: string;
    arbitraryData: string;
    arbitraryDataText: string | null;
    size: number;
    confirmations: number;
    coinInputTotal: string;
    coinOutputTotal: string;
    payload: Record<string, unknown> | null;
    block: { id: string; timestamp: number } | null;
    inputs: { totalCount: number; nodes: Input[] };
    outputs: { totalCount: number; nodes: OutputRow[] };
  };
}

const TRANSACTION = `query Transaction($id: String!) {
  transaction(id: $id) {
    id blockHeight index kind fee arbitraryData arbitraryDataText size confirmations
    coinInputTotal coinOutputTotal payload
    block { id timestamp }
    inputs(first: 100) { totalCount nodes { currency index parentId value address fulfillmentType publicKeys secret } }
    outputs(first: 100) { totalCount nodes { id currency origin value address spent spentBy ${CONDITION_FIELDS} } }
  }
}`;

function unit(currency: string): string {
  return currency === "BLOCKSTAKE" ? "blockstakes" : "coins";
}

function ArbitraryData({ hex, text }: { hex: string; text: string | null }) {
  const readable = text ?? hexToText(hex);
  const [asHex, setAsHex] = useState(readable == null);
  if (hex.length === 0) return <span className="muted">none</span>;
  return (
    <div className="data">
      <pre data-testid="arbitrary-data">{asHex || readable == null ? hex : readable}</pre>
      {readable != null && (
        <button type="button" onClick={() => setAsHex(!asHex)}>
          Show as {asHex ? "text" : "hex"}
        </button>
      )}
      <span className="hint">{groupDigits(String(hex.length / 2))} bytes</span>
    </div>
  );
}

function Payload({ payload }: { payload: Record<string, unknown> }) {
  const kind = String(payload.kind ?? "payload");
  if (kind === "notary" && typeof payload.documentHash === "string") {
    return (
      <p>
        Notary record of the document with BLAKE2b-256 hash <code className="mono break">{payload.documentHash}</code>: it existed by
        this block's time.
      </p>
    );
  }
  return <pre className="json">{JSON.stringify(payload, null, 2)}</pre>;
}

export function TransactionPage() {
  const { id = "" } = useParams();
  const state = useQuery<Data>(TRANSACTION, { id });
  return (
    <Loaded state={state} missing={(data) => (data.transaction ? null : `No confirmed transaction ${id}.`)}>
      {({ transaction: t }) =>
        t && (
          <>
            <h1>Transaction</h1>
            <section className="card" aria-label="Summary">
              <Facts
                rows={[
                  ["ID", <Id kind="tx" value={t.id} full link={false} />],
                  ["Kind", kindLabel(t.kind)],
                  ["Block", <><HeightLink height={t.blockHeight} /> (position {t.index})</>],
                  ["Time", t.block ? <Time unix={t.block.timestamp} /> : "–"],
                  ["Confirmations", groupDigits(String(t.confirmations))],
                  ["Coins in / out", <><Amount value={t.coinInputTotal} /> → <Amount value={t.coinOutputTotal} /></>],
                  ["Fee", <Amount value={t.fee} />],
                  ["Size", `${groupDigits(String(t.size))} bytes`],
                ]}
              />
            </section>
            <section className="card" aria-labelledby="inputs-title">
              <h2 id="inputs-title">Inputs ({t.inputs.totalCount})</h2>
              {t.inputs.nodes.length === 0 ? (
                <p className="hint">No inputs.</p>
              ) : (
                <table data-testid="inputs">
                  <thead>
                    <tr>
                      <th scope="col">Spends</th>
                      <th scope="col">From</th>
                      <th scope="col">Value</th>
                      <th scope="col">Fulfillment</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.inputs.nodes.map((input) => (
                      <tr key={`${input.currency}-${input.index}`}>
                        <td>
                          <Id kind="output" value={input.parentId} />
                        </td>
                        <td>
                          <Id kind="address" value={input.address} />
                        </td>
                        <td>
                          <Amount value={input.value} unit={unit(input.currency)} />
                        </td>
                        <td>{describeFulfillment(input.fulfillmentType, input.publicKeys.length, input.secret)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <section className="card" aria-labelledby="outputs-title">
              <h2 id="outputs-title">Outputs ({t.outputs.totalCount})</h2>
              <table data-testid="outputs">
                <thead>
                  <tr>
                    <th scope="col">Output</th>
                    <th scope="col">Value</th>
                    <th scope="col">Spendable by</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {t.outputs.nodes.map((o) => (
                    <tr key={o.id}>
                      <td>
                        <Id kind="output" value={o.id} />
                      </td>
                      <td>
                        <Amount value={o.value} unit={unit(o.currency)} />
                      </td>
                      <td>
                        <Condition condition={o.condition} owner={o.address} />
                      </td>
                      <td>{o.spent && o.spentBy ? <>spent by <Id kind="tx" value={o.spentBy} /></> : "unspent"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section className="card" aria-labelledby="data-title">
              <h2 id="data-title">Arbitrary data</h2>
              <ArbitraryData hex={t.arbitraryData} text={t.arbitraryDataText} />
            </section>
            {t.payload && (
              <section className="card" aria-labelledby="payload-title">
                <h2 id="payload-title">Payload</h2>
                <Payload payload={t.payload} />
              </section>
            )}
          </>
        )
      }
    </Loaded>
  );
}
