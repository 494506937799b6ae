# Compute in the devnet (sourced by scripts/devnet; docs/compute.md
# "Devnet"): node-agent processes with the process driver on loopback,
# each with its own node key, work dir and log under $devnet_dir/agent-J/,
# registered on chain as compute nodes by a devnet compute operator (a
# wallet in $devnet_dir/compute/ with the identity `compute-operator`,
# funded from the genesis wallet), which also pays each node key the coins
# its reports' fees need. Then `wallet blueprint apply` runs workloads on
# them (README, examples/blueprints/web.yaml).
#
#   BSC_DEVNET_AGENT_BASE     agent J serves /healthz and /metrics on
#                             127.0.0.1:(this + J)                  (23300)
#   BSC_DEVNET_AGENTS         number of node agents (2)
#   BSC_DEVNET_AGENT_CORES, BSC_DEVNET_AGENT_MEMORY_MIB, BSC_DEVNET_AGENT_DISK_GIB
#                             capacity each node registers    (4, 4096, 100)
#   BSC_DEVNET_COMPUTE=0      start no node agent

agent_base="${BSC_DEVNET_AGENT_BASE:-23300}"
agent_count="${BSC_DEVNET_AGENTS:-2}"
agent_cores="${BSC_DEVNET_AGENT_CORES:-4}"
agent_memory_mib="${BSC_DEVNET_AGENT_MEMORY_MIB:-4096}"
agent_disk_gib="${BSC_DEVNET_AGENT_DISK_GIB:-100}"
agent_bin="$target_dir/debug/node-agent"
compute_dir="$devnet_dir/compute"

agent_port() { echo $((agent_base + $1)); }
# Agent J's node sits in farm devnet-J, be/ghent.
agent_farm() { echo "devnet-$1"; }

agent_pid() { dir_pid "$devnet_dir/agent-$1"; }

# The devnet compute operator's wallet CLI (its own wallet folder).
compute_wallet() { operator_wallet "$compute_dir" "$@"; }

start_compute() {
    [[ "${BSC_DEVNET_COMPUTE:-1}" == 0 ]] && return
    local index dir pid
    for index in $(seq 1 "$agent_count"); do
        dir="$devnet_dir/agent-$index"
        mkdir -p "$dir"
        # A node key per agent, kept across restarts (the node ID is its hash).
        [[ -f "$dir/node.key" ]] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$dir/node.key")
    done
    register_compute
    for index in $(seq 1 "$agent_count"); do
        dir="$devnet_dir/agent-$index"
        if pid=$(agent_pid "$index"); then
            echo "devnet: node agent $index already runs (pid $pid)"
            continue
        fi
        nohup "$agent_bin" --node-key-file "$dir/node.key" --network devnet run --driver process \
            --work-dir "$dir/work" --listen "127.0.0.1:$(agent_port "$index")" --nats-url "$(nats_url)" \
            >>"$dir/node-agent.log" 2>&1 </dev/null &
        echo $! >"$dir/pid"
        echo "devnet: node agent $index started (pid $!, process driver, http://127.0.0.1:$(agent_port "$index")/healthz, farm $(agent_farm "$index"), log $dir/node-agent.log)"
    done
    for index in $(seq 1 "$agent_count"); do
        wait_healthy "http://127.0.0.1:$(agent_port "$index")" "$devnet_dir/agent-$index" \
            "node agent $index" "$devnet_dir/agent-$index/node-agent.log"
    done
}

# Registers every node not yet registered (their IDs are recorded in
# $compute_dir/registered) and pays its node key fee coins.
register_compute() {
    mkdir -p "$compute_dir"
    touch "$compute_dir/registered"
    local index node missing=()
    for index in $(seq 1 "$agent_count"); do
        node=$("$agent_bin" --node-key-file "$devnet_dir/agent-$index/node.key" --network devnet show | sed -n 's/^node id: //p')
        grep -qxF "$node" "$compute_dir/registered" || missing+=("$index")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    echo "devnet: registering ${#missing[@]} compute nodes on chain (operator wallet in $compute_dir/wallets)"
    ensure_operator "$compute_dir" compute-operator
    local dir fee_address
    for index in "${missing[@]}"; do
        dir="$devnet_dir/agent-$index"
        node=$("$agent_bin" --node-key-file "$dir/node.key" --network devnet show | sed -n 's/^node id: //p')
        fee_address=$("$agent_bin" --node-key-file "$dir/node.key" --network devnet show | sed -n 's/^fee address: //p')
        compute_wallet --wallet operator compute register-node --node-key-file "$dir/node.key" \
            --farm "$(agent_farm "$index")" --country be --city ghent \
            --cores "$agent_cores" --memory-mib "$agent_memory_mib" --disk-gib "$agent_disk_gib" >/dev/null
        # Report fees: a few outputs, so reports in consecutive blocks
        # need not wait for change.
        for _ in 1 2 3; do
            compute_wallet --wallet operator send 20 "$fee_address" >/dev/null
        done
        echo "$node" >>"$compute_dir/registered"
    done
    echo "devnet: compute nodes registered; deploy with: wallet blueprint apply examples/blueprints/web.yaml --deposit 5 (docs/compute.md)"
}

stop_compute() {
    local dir
    for dir in "$devnet_dir"/agent-*; do
        [[ -d "$dir" ]] || continue
        stop_dir "$dir" "node agent ${dir##*-}"
        # A stopped agent leaves its workloads running for the next one to
        # adopt; `down` stops them too.
        if [[ -d "$dir/work/state" && -x "$agent_bin" ]]; then
            "$agent_bin" stop-workloads --work-dir "$dir/work" 2>&1 | sed "s/^/devnet: node agent ${dir##*-}: /" ||
                echo "devnet: node agent ${dir##*-}: could not stop all its workloads (see above)" >&2
        fi
    done
    return 0
}

compute_status() {
    local dir index pid port metrics running
    for dir in "$devnet_dir"/agent-*; do
        [[ -d "$dir" ]] || continue
        index=${dir##*-}
        port=$(agent_port "$index")
        if pid=$(agent_pid "$index"); then
            metrics=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null || true)
            running=$(awk '$1 ~ /^node_agent_workloads\{state="running"/ { n += $2 } END { print n + 0 }' <<<"$metrics")
            printf 'agent-%s   running  pid %s  http://127.0.0.1:%s  farm %s  health %s  height %s  workloads running %s (adopted at start %s)  log %s\n' \
                "$index" "$pid" "$port" "$(agent_farm "$index")" \
                "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null || echo down)" \
                "$(awk '$1 == "node_agent_height" { print $2; exit }' <<<"$metrics")" \
                "$running" "$(awk '$1 == "node_agent_adopted_workloads" { print $2; exit }' <<<"$metrics")" \
                "$dir/node-agent.log"
        else
            printf 'agent-%s   stopped\n' "$index"
        fi
    done
}
