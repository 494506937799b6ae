import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from "recharts";
import { Amount, Id, Loaded } from "../components";
import { groupDigits, shortAddress } from "../format";
import { useQuery } from "../hooks";

interface Data {
  chain: { blockstakeSupply: string | null; estimatedActiveStake: string | null };
  blockstakeHolders: { address: string; blockstakes: string; outputs: number; blocksCreated: number }[];
}

const HOLDERS = `query Holders {
  chain { blockstakeSupply estimatedActiveStake }
  blockstakeHolders(first: 100) { address blockstakes outputs blocksCreated }
}`;

const COLORS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899", "#64748b"];
/** Slices drawn; the rest is one "others" slice. */
const SLICES = 8;

export function StakePage() {
  const state = useQuery<Data>(HOLDERS);
  return (
    <>
      <h1>Blockstake distribution</h1>
      <Loaded state={state}>
        {({ chain, blockstakeHolders: holders }) => {
          const supply = Number(chain.blockstakeSupply ?? 0);
          const top = holders.slice(0, SLICES).map((h) => ({ name: shortAddress(h.address), value: Number(h.blockstakes) }));
          const shown = top.reduce((sum, h) => sum + h.value, 0);
          if (supply > shown) top.push({ name: "others", value: supply - shown });
          const share = (value: string) => (supply > 0 ? `${((Number(value) / supply) * 100).toFixed(2)} %` : "–");
          return (
            <>
              <section className="card" aria-labelledby="stake-chart-title">
                <h2 id="stake-chart-title">Share of {groupDigits(String(supply))} blockstakes</h2>
                <p className="hint">
                  Estimated active stake: <Amount value={chain.estimatedActiveStake} unit="blockstakes" />
                </p>
                <figure aria-label="Blockstakes by holder" data-testid="stake-chart">
                  <ResponsiveContainer width="100%" height={260}>
                    <PieChart>
                      <Pie data={top} dataKey="value" nameKey="name" outerRadius={100} isAnimationActive={false} label={(entry) => String(entry.name)}>
                        {top.map((_, i) => (
                          <Cell key={i} fill={COLORS[i % COLORS.length]} />
                        ))}
                      </Pie>
                      <Tooltip contentStyle={{ background: "var(--card)", color: "var(--fg)" }} />
                    </PieChart>
                  </ResponsiveContainer>
                </figure>
              </section>
              <section className="card" aria-labelledby="holders-title">
                <h2 id="holders-title">Holders</h2>
                <table data-testid="holders">
                  <thead>
                    <tr>
                      <th scope="col">Address</th>
                      <th scope="col">Blockstakes</th>
                      <th scope="col">Share</th>
                      <th scope="col" className="wide">Outputs</th>
                      <th scope="col" className="wide">Blocks created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {holders.map((h) => (
                      <tr key={h.address}>
                        <td>
                          <Id kind="address" value={h.address} />
                        </td>
                        <td>{groupDigits(h.blockstakes)}</td>
                        <td>{share(h.blockstakes)}</td>
                        <td className="wide">{h.outputs}</td>
                        <td className="wide">{groupDigits(String(h.blocksCreated))}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            </>
          );
        }}
      </Loaded>
    </>
  );
}
