import { blake2b } from "@noble/hashes/blake2.js";
import { useState, type DragEvent } from "react";
import { query } from "../api";
import { ErrorView, HeightLink, Id, Time } from "../components";
import { groupDigits, toHex } from "../format";

const RECORD = `query Notary($hash: String!) {
  notaryRecord(documentHash: $hash) { documentHash transactionId blockHeight timestamp }
}`;

interface Record {
  documentHash: string;
  transactionId: string;
  blockHeight: number;
  timestamp: number;
}

type State =
  | { step: "idle" }
  | { step: "hashing"; name: string }
  | { step: "done"; name: string; size: number; hash: string; record: Record | null }
  | { step: "failed"; error: unknown };

/** The notary document hash: unkeyed BLAKE2b-256 of the file's bytes. */
export function documentHash(bytes: Uint8Array): string {
  return toHex(blake2b(bytes, { dkLen: 32 }));
}

export function NotaryPage() {
  const [state, setState] = useState<State>({ step: "idle" });
  const [over, setOver] = useState(false);

  const check = async (file: File) => {
    setState({ step: "hashing", name: file.name });
    try {
      const hash = documentHash(new Uint8Array(await file.arrayBuffer()));
      const data = await query<{ notaryRecord: Record | null }>(RECORD, { hash });
      setState({ step: "done", name: file.name, size: file.size, hash, record: data.notaryRecord });
    } catch (error) {
      setState({ step: "failed", error });
    }
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file) void check(file);
  };

  return (
    <>
      <h1>Notary</h1>
      <p>
        Drop a document to see whether its hash was recorded on chain. The file never leaves your browser: only its BLAKE2b-256 hash is sent
        to the API.
      </p>
      <div
        className={`dropzone ${over ? "over" : ""}`}
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <label htmlFor="notary-file">Drop a file here, or choose one</label>
        <input
          id="notary-file"
          type="file"
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (file) void check(file);
          }}
        />
      </div>
      <section aria-live="polite" className="card" data-testid="notary-result">
        {state.step === "idle" && <p className="hint">No file yet.</p>}
        {state.step === "hashing" && <p role="status">Hashing {state.name}…</p>}
        {state.step === "failed" && <ErrorView error={state.error} />}
        {state.step === "done" && (
          <>
            <p>
              {state.name} ({groupDigits(String(state.size))} bytes), BLAKE2b-256 <code className="mono break">{state.hash}</code>
            </p>
            {state.record ? (
              <p className="ok">
                Recorded in block <HeightLink height={state.record.blockHeight} /> by transaction{" "}
                <Id kind="tx" value={state.record.transactionId} />: the document existed by <Time unix={state.record.timestamp} />.
              </p>
            ) : (
              <p className="warn">This document's hash is not recorded on chain.</p>
            )}
          </>
        )}
      </section>
    </>
  );
}
