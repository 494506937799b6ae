import { StrictMode, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, NavLink, Route, Routes, useNavigate } from "react-router-dom";
import { NotFound } from "./components";
import { useTheme } from "./hooks";
import { AddressPage } from "./pages/Address";
import { BlockPage } from "./pages/Block";
import { BlocksPage } from "./pages/Blocks";
import { ChatNewsPage } from "./pages/ChatNews";
import { ComputePage } from "./pages/Compute";
import { ComputeDeploymentPage } from "./pages/ComputeDeployment";
import { ComputeDeploymentsPage } from "./pages/ComputeDeployments";
import { ComputeNodePage } from "./pages/ComputeNode";
import { Dashboard } from "./pages/Dashboard";
import { IdentityPage } from "./pages/Identity";
import { OrganizationPage } from "./pages/IdentityOrganization";
import { NotaryPage } from "./pages/Notary";
import { OutputPage } from "./pages/Output";
import { SearchPage } from "./pages/Search";
import { StakePage } from "./pages/Stake";
import { StoragePage } from "./pages/Storage";
import { StorageNodePage } from "./pages/StorageNode";
import { StorageObjectPage } from "./pages/StorageObject";
import { TransactionPage } from "./pages/Transaction";
import "./styles.css";

function SearchBox() {
  const navigate = useNavigate();
  const [term, setTerm] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (term.trim()) navigate(`/search?q=${encodeURIComponent(term.trim())}`);
  };
  return (
    <form role="search" className="search" onSubmit={submit}>
      <label htmlFor="search-term" className="visually-hidden">
        Search by block height, block, transaction, output, deployment or compute node ID, address, storage node or object ID, identity name or organization path
      </label>
      <input
        id="search-term"
        type="search"
        value={term}
        onChange={(event) => setTerm(event.target.value)}
        placeholder="Height, ID, address or name"
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit">Search</button>
    </form>
  );
}

function App() {
  const [theme, toggleTheme] = useTheme();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          blockstake explorer
        </Link>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Dashboard
          </NavLink>
          <NavLink to="/blocks">Blocks</NavLink>
          <NavLink to="/stake">Blockstakes</NavLink>
          <NavLink to="/notary">Notary</NavLink>
          <NavLink to="/news">News</NavLink>
          <NavLink to="/storage">Storage</NavLink>
          <NavLink to="/compute">Compute</NavLink>
        </nav>
        <SearchBox />
        <button
          type="button"
          className="theme"
          onClick={toggleTheme}
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          title={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
        >
          {theme === "dark" ? "☀" : "☾"}
        </button>
      </header>
      <main id="main">
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/blocks" element={<BlocksPage />} />
          <Route path="/block/:ref" element={<BlockPage />} />
          <Route path="/tx/:id" element={<TransactionPage />} />
          <Route path="/address/:address" element={<AddressPage />} />
          <Route path="/output/:id" element={<OutputPage />} />
          <Route path="/stake" element={<StakePage />} />
          <Route path="/notary" element={<NotaryPage />} />
          <Route path="/news" element={<ChatNewsPage />} />
          <Route path="/compute" element={<ComputePage />} />
          <Route path="/compute/node/:id" element={<ComputeNodePage />} />
          <Route path="/compute/deployments/:owner" element={<ComputeDeploymentsPage />} />
          <Route path="/compute/deployment/:id" element={<ComputeDeploymentPage />} />
          <Route path="/identity/:name" element={<IdentityPage />} />
          <Route path="/organization/:path" element={<OrganizationPage />} />
          <Route path="/storage" element={<StoragePage />} />
          <Route path="/storage/node/:id" element={<StorageNodePage />} />
          <Route path="/storage/object/:id" element={<StorageObjectPage />} />
          <Route path="/search" element={<SearchPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </StrictMode>,
  );
}
