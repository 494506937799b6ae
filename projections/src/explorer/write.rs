//! Writing one block's rows: one statement per table, each row set passed
//! as arrays and expanded with `UNNEST`, so the number of round trips per
//! block does not grow with its transactions.

use sqlx::PgConnection;

use super::ExplorerError;
use super::difficulty::BlockDifficulty;
use super::rows::BlockRows;

/// Writes `rows` (and the block's difficulty columns).
pub async fn write_block(
    connection: &mut PgConnection,
    rows: &BlockRows,
    difficulty: &BlockDifficulty,
) -> Result<(), ExplorerError> {
    let height = rows.height;
    sqlx::query(
        "INSERT INTO block (height, id, parent, timestamp, staker, stake_output_height,
                            stake_output_tx_index, stake_output_index, transaction_count, fees,
                            payouts_total, block_time, size, target, child_target, difficulty,
                            cumulative_difficulty, estimated_active_stake)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::numeric, $11::numeric,
                $4 - (SELECT p.timestamp FROM block p WHERE p.height = $1 - 1),
                $12, $13, $14, $15::numeric, $16::numeric, $17::numeric",
    )
    .bind(height)
    .bind(&rows.id)
    .bind(&rows.parent)
    .bind(rows.timestamp)
    .bind(&rows.staker)
    .bind(rows.stake_output.0)
    .bind(rows.stake_output.1)
    .bind(rows.stake_output.2)
    .bind(i32::try_from(rows.transactions.len()).unwrap_or(i32::MAX))
    .bind(rows.fees.0.to_string())
    .bind(rows.payouts_total.0.to_string())
    .bind(rows.size)
    .bind(difficulty.target.map(|target| target.0.to_vec()))
    .bind(difficulty.child_target.0.to_vec())
    .bind(difficulty.difficulty.to_string())
    .bind(difficulty.cumulative.to_string())
    .bind(&difficulty.estimated_active_stake)
    .execute(&mut *connection)
    .await?;

    if !rows.transactions.is_empty() {
        let t = &rows.transactions;
        sqlx::query(
            "INSERT INTO transaction (id, block_height, transaction_index, kind, fee, arbitrary_data,
                                      size, coin_input_count, coin_output_count,
                                      blockstake_input_count, blockstake_output_count,
                                      coin_input_total, coin_output_total)
             SELECT u.id, $1, u.idx, u.kind, u.fee::numeric, u.data, u.size, u.ci, u.co, u.bi, u.bo,
                    u.cit::numeric, u.cot::numeric
               FROM UNNEST($2::bytea[], $3::int4[], $4::text[], $5::text[], $6::bytea[],
                           $7::int4[], $8::int4[], $9::int4[], $10::int4[], $11::int4[],
                           $12::text[], $13::text[])
                    AS u(id, idx, kind, fee, data, size, ci, co, bi, bo, cit, cot)",
        )
        .bind(height)
        .bind(t.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.index).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.kind).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.fee.clone()).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.arbitrary_data.clone()).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.size).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.coin_inputs).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.coin_outputs).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.blockstake_inputs).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.blockstake_outputs).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.coin_input_total.clone()).collect::<Vec<_>>())
        .bind(t.iter().map(|r| r.coin_output_total.clone()).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    }

    if !rows.outputs.is_empty() {
        let o = &rows.outputs;
        sqlx::query(
            "INSERT INTO output (id, currency, origin, block_height, transaction_id, transaction_index,
                                 output_index, value, address, condition_type, timelock,
                                 timelock_kind, timelock_inner_type, multisig_required,
                                 multisig_key_count, swap_sender, swap_receiver,
                                 swap_hashed_secret, swap_timelock, matures_at)
             SELECT u.id, u.currency, u.origin, $1, u.tx, u.txi, u.idx, u.value::numeric, u.address,
                    u.ctype, u.lock, u.lock_kind, u.inner_type, u.required, u.keys, u.sender,
                    u.receiver, u.hashed, u.swap_lock, u.matures
               FROM UNNEST($2::bytea[], $3::text[], $4::text[], $5::bytea[], $6::int4[],
                           $7::int4[], $8::text[], $9::bytea[], $10::text[], $11::int8[],
                           $12::text[], $13::text[], $14::int4[], $15::int4[], $16::bytea[],
                           $17::bytea[], $18::bytea[], $19::int8[], $20::int8[])
                    AS u(id, currency, origin, tx, txi, idx, value, address, ctype, lock,
                         lock_kind, inner_type, required, keys, sender, receiver, hashed,
                         swap_lock, matures)",
        )
        .bind(height)
        .bind(o.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.currency).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.origin).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.transaction_id.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.transaction_index).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.output_index).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.value.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.address.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.condition_type).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.timelock).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.timelock_kind).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.timelock_inner_type).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.multisig_required).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.multisig_key_count).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.swap_sender.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.swap_receiver.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.swap_hashed_secret.clone()).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.condition.swap_timelock).collect::<Vec<_>>())
        .bind(o.iter().map(|r| r.matures_at).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    }

    if !rows.spends.is_empty() {
        let marked = sqlx::query(
            "UPDATE output o SET spent_by = u.tx, spent_at = $1
               FROM UNNEST($2::bytea[], $3::bytea[]) AS u(id, tx)
              WHERE o.id = u.id AND o.spent_at IS NULL",
        )
        .bind(height)
        .bind(
            rows.spends
                .iter()
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.spends
                .iter()
                .map(|(_, tx)| tx.clone())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if marked != rows.spends.len() as u64 {
            return Err(ExplorerError::UnknownSpentOutputs {
                height: u64::try_from(height).unwrap_or(0),
                expected: rows.spends.len(),
                marked,
            });
        }
    }

    if !rows.inputs.is_empty() {
        let i = &rows.inputs;
        sqlx::query(
            "INSERT INTO input (transaction_id, currency, input_index, block_height, parent_id, value,
                                address, fulfillment_type, public_keys, secret)
             SELECT u.tx, u.currency, u.idx, $1, u.parent, u.value::numeric, u.address, u.ftype,
                    ARRAY(SELECT substring(u.keys FROM g * 32 + 1 FOR 32)
                            FROM generate_series(0, octet_length(u.keys) / 32 - 1) AS g
                           ORDER BY g),
                    u.secret
               FROM UNNEST($2::bytea[], $3::text[], $4::int4[], $5::bytea[], $6::text[],
                           $7::bytea[], $8::text[], $9::bytea[], $10::bytea[])
                    AS u(tx, currency, idx, parent, value, address, ftype, keys, secret)",
        )
        .bind(height)
        .bind(i.iter().map(|r| r.transaction_id.clone()).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.currency).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.index).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.parent_id.clone()).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.value.clone()).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.address.clone()).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.fulfillment_type).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.public_keys.clone()).collect::<Vec<_>>())
        .bind(i.iter().map(|r| r.secret.clone()).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    }

    let mut new_addresses = 0i32;
    if !rows.addresses.is_empty() {
        let a: Vec<_> = rows.addresses.iter().collect();
        let inserted: Vec<bool> = sqlx::query_scalar(
            "INSERT INTO address AS a (address, kind, coin_balance, coin_maturing, blockstake_balance,
                                       coin_outputs_unspent, blockstake_outputs_unspent,
                                       outputs_received, transaction_count, blocks_created,
                                       first_seen, last_seen)
             SELECT u.address, u.kind, u.coins::numeric, u.maturing::numeric, u.stakes::numeric,
                    u.cu, u.bu, u.received, u.txs, u.blocks, $1, $1
               FROM UNNEST($2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[],
                           $7::int4[], $8::int4[], $9::int4[], $10::int4[], $11::int4[])
                    AS u(address, kind, coins, maturing, stakes, cu, bu, received, txs, blocks)
             ON CONFLICT (address) DO UPDATE SET
                coin_balance = a.coin_balance + EXCLUDED.coin_balance,
                coin_maturing = a.coin_maturing + EXCLUDED.coin_maturing,
                blockstake_balance = a.blockstake_balance + EXCLUDED.blockstake_balance,
                coin_outputs_unspent = a.coin_outputs_unspent + EXCLUDED.coin_outputs_unspent,
                blockstake_outputs_unspent = a.blockstake_outputs_unspent + EXCLUDED.blockstake_outputs_unspent,
                outputs_received = a.outputs_received + EXCLUDED.outputs_received,
                transaction_count = a.transaction_count + EXCLUDED.transaction_count,
                blocks_created = a.blocks_created + EXCLUDED.blocks_created,
                last_seen = EXCLUDED.last_seen
             RETURNING (xmax = 0)",
        )
        .bind(height)
        .bind(a.iter().map(|(address, _)| address.to_vec()).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.kind).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.coins.to_decimal()).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.maturing.to_decimal()).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.blockstakes.to_decimal()).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.coin_outputs_unspent).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.blockstake_outputs_unspent).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.outputs_received).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.transactions).collect::<Vec<_>>())
        .bind(a.iter().map(|(_, c)| c.blocks_created).collect::<Vec<_>>())
        .fetch_all(&mut *connection)
        .await?;
        new_addresses = i32::try_from(inserted.iter().filter(|new| **new).count()).unwrap_or(0);
    }

    if !rows.address_transactions.is_empty() {
        let l: Vec<_> = rows.address_transactions.iter().collect();
        sqlx::query(
            "INSERT INTO address_transaction (address, block_height, transaction_index, transaction_id)
             SELECT u.address, $1, u.idx, u.tx
               FROM UNNEST($2::bytea[], $3::int4[], $4::bytea[]) AS u(address, idx, tx)",
        )
        .bind(height)
        .bind(l.iter().map(|((address, _), _)| address.to_vec()).collect::<Vec<_>>())
        .bind(l.iter().map(|((_, index), _)| *index).collect::<Vec<_>>())
        .bind(l.iter().map(|(_, tx)| (*tx).clone()).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    }

    if !rows.multisig_members.is_empty() {
        let m: Vec<_> = rows.multisig_members.iter().collect();
        sqlx::query(
            "INSERT INTO multisig_member (multisig_address, member_address, public_key, required,
                                          key_count, first_seen)
             SELECT u.multisig, u.member, u.key, u.required, u.n, $1
               FROM UNNEST($2::bytea[], $3::bytea[], $4::bytea[], $5::int4[], $6::int4[])
                    AS u(multisig, member, key, required, n)
             ON CONFLICT DO NOTHING",
        )
        .bind(height)
        .bind(
            m.iter()
                .map(|((multisig, _), _)| multisig.to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(
            m.iter()
                .map(|((_, member), _)| member.to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(
            m.iter()
                .map(|(_, row)| row.public_key.clone())
                .collect::<Vec<_>>(),
        )
        .bind(m.iter().map(|(_, row)| row.required).collect::<Vec<_>>())
        .bind(m.iter().map(|(_, row)| row.key_count).collect::<Vec<_>>())
        .execute(&mut *connection)
        .await?;
    }

    for (document_hash, transaction_id) in &rows.notary {
        sqlx::query(
            "INSERT INTO notary_record (document_hash, transaction_id, block_height, timestamp)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(document_hash)
        .bind(transaction_id)
        .bind(height)
        .bind(rows.timestamp)
        .execute(&mut *connection)
        .await?;
    }
    for event in &rows.mint_events {
        sqlx::query(
            "INSERT INTO mint_event (block_height, event_index, transaction_id, kind, condition, amount)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6::numeric)",
        )
        .bind(height)
        .bind(event.event_index)
        .bind(&event.transaction_id)
        .bind(event.kind)
        .bind(&event.condition)
        .bind(&event.amount)
        .execute(&mut *connection)
        .await?;
    }
    for event in &rows.authorization_events {
        sqlx::query(
            "INSERT INTO authorization_event (block_height, event_index, transaction_id, kind, address,
                                              condition)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        )
        .bind(height)
        .bind(event.event_index)
        .bind(&event.transaction_id)
        .bind(event.kind)
        .bind(&event.address)
        .bind(&event.condition)
        .execute(&mut *connection)
        .await?;
    }

    if !rows.transactions.is_empty() {
        sqlx::query("DELETE FROM pending_transaction WHERE id = ANY($1)")
            .bind(
                rows.transactions
                    .iter()
                    .map(|r| r.id.clone())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *connection)
            .await?;
    }

    // Running totals: the parent's plus this block's.
    let coin_supply_change = {
        // payouts + minted + genesis coins − fees − destroyed
        let plus = rows
            .payouts_total
            .0
            .saturating_add(rows.minted.0)
            .saturating_add(rows.genesis_coins.0);
        let minus = rows.fees.0.saturating_add(rows.destroyed.0);
        super::rows::Delta { plus, minus }.to_decimal()
    };
    let stake_change = super::rows::Delta {
        plus: rows.blockstake_created,
        minus: rows.blockstake_spent,
    }
    .to_decimal();
    sqlx::query(
        "INSERT INTO block_statistics (height, timestamp, coin_inputs, coin_outputs, blockstake_inputs,
                                       blockstake_outputs, arbitrary_data_bytes, coins_minted,
                                       coins_destroyed, new_addresses, cumulative_transactions,
                                       cumulative_addresses, coin_supply, blockstake_supply)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8::numeric, $9::numeric, $10,
                coalesce(p.cumulative_transactions, 0) + $11,
                coalesce(p.cumulative_addresses, 0) + $10,
                coalesce(p.coin_supply, 0) + $12::numeric,
                coalesce(p.blockstake_supply, 0) + $13::numeric
           FROM (SELECT 1) AS one
           LEFT JOIN block_statistics p ON p.height = $1 - 1",
    )
    .bind(height)
    .bind(rows.timestamp)
    .bind(rows.coin_inputs)
    .bind(rows.coin_outputs)
    .bind(rows.blockstake_inputs)
    .bind(rows.blockstake_outputs)
    .bind(rows.arbitrary_data_bytes)
    .bind(rows.minted.0.to_string())
    .bind(rows.destroyed.0.to_string())
    .bind(new_addresses)
    .bind(i64::try_from(rows.transactions.len()).unwrap_or(i64::MAX))
    .bind(coin_supply_change)
    .bind(stake_change)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
