//! One identity event → its rows. Each arm is the whole effect of one
//! event on the tables of `migrations/identity/`, plus the activity rows
//! of everyone it concerns.

use chain::domains::identity::IdentityEvent;
use ledger::Hash32;
use ledger::payload::identity::Subject;
use sqlx::PgConnection;

/// Where an event happened.
pub struct At {
    pub height: i64,
    pub event_index: i64,
    pub transaction_index: i32,
    pub transaction_id: Vec<u8>,
}

fn bytes(hash: &Hash32) -> Vec<u8> {
    hash.0.to_vec()
}

/// `(kind, id)` of a role holder.
pub fn subject_columns(subject: &Subject) -> (&'static str, Vec<u8>) {
    match subject {
        Subject::Identity(identity) => ("identity", bytes(&identity.0)),
        Subject::Organization(organization) => ("organization", bytes(&organization.0)),
    }
}

/// Writes the rows of one event.
pub async fn fold_event(
    connection: &mut PgConnection,
    at: &At,
    event: &IdentityEvent,
) -> Result<(), sqlx::Error> {
    let mut concerns: Vec<Vec<u8>> = Vec::new();
    match event {
        IdentityEvent::IdentityRegistered {
            identity,
            name,
            public_key,
        } => {
            sqlx::query(
                "INSERT INTO identity (id, name, registered_height, registered_tx, active_keys)
                 VALUES ($1, $2, $3, $4, 1)",
            )
            .bind(bytes(&identity.0))
            .bind(name.as_str())
            .bind(at.height)
            .bind(&at.transaction_id)
            .execute(&mut *connection)
            .await?;
            insert_key(
                connection,
                at,
                &identity.0,
                &public_key.0,
                "registration",
                None,
            )
            .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::KeyAdded {
            identity,
            public_key,
        } => {
            insert_key(connection, at, &identity.0, &public_key.0, "added", None).await?;
            sqlx::query("UPDATE identity SET active_keys = active_keys + 1 WHERE id = $1")
                .bind(bytes(&identity.0))
                .execute(&mut *connection)
                .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::KeyRotated {
            identity,
            old_key,
            new_key,
        } => {
            sqlx::query(
                "UPDATE identity_key SET status = 'retired', retired_height = $2, replaced_by = $3
                  WHERE public_key = $1",
            )
            .bind(old_key.0.to_vec())
            .bind(at.height)
            .bind(new_key.0.to_vec())
            .execute(&mut *connection)
            .await?;
            insert_key(
                connection,
                at,
                &identity.0,
                &new_key.0,
                "rotation",
                Some(&old_key.0),
            )
            .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::KeyRevoked {
            identity,
            public_key,
        } => {
            sqlx::query(
                "UPDATE identity SET active_keys = active_keys - 1
                  WHERE id = $1
                    AND (SELECT status FROM identity_key WHERE public_key = $2) = 'active'",
            )
            .bind(bytes(&identity.0))
            .bind(public_key.0.to_vec())
            .execute(&mut *connection)
            .await?;
            sqlx::query(
                "UPDATE identity_key SET status = 'revoked', revoked_height = $2
                  WHERE public_key = $1",
            )
            .bind(public_key.0.to_vec())
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::AttributeAdded {
            identity,
            label,
            commitment,
        } => {
            sqlx::query(
                "INSERT INTO attribute (identity, label, commitment, added_height)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(bytes(&identity.0))
            .bind(label.as_str())
            .bind(bytes(&commitment.0))
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::AttributeRemoved {
            identity, label, ..
        } => {
            sqlx::query("DELETE FROM attribute WHERE identity = $1 AND label = $2")
                .bind(bytes(&identity.0))
                .bind(label.as_str())
                .execute(&mut *connection)
                .await?;
            sqlx::query(
                "UPDATE attestation SET status = 'attribute_removed', ended_height = $3
                  WHERE subject = $1 AND label = $2 AND status = 'active'",
            )
            .bind(bytes(&identity.0))
            .bind(label.as_str())
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.push(bytes(&identity.0));
        }
        IdentityEvent::AttributeAttested {
            subject,
            label,
            verifier,
            commitment,
        } => {
            sqlx::query(
                "INSERT INTO attestation (subject, label, verifier, commitment, attested_height,
                                          status, ended_height)
                 VALUES ($1, $2, $3, $4, $5, 'active', NULL)
                 ON CONFLICT (subject, label, verifier) DO UPDATE
                    SET commitment = EXCLUDED.commitment,
                        attested_height = EXCLUDED.attested_height,
                        status = 'active', ended_height = NULL",
            )
            .bind(bytes(&subject.0))
            .bind(label.as_str())
            .bind(bytes(&verifier.0))
            .bind(bytes(&commitment.0))
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&subject.0), bytes(&verifier.0)]);
        }
        IdentityEvent::AttestationRevoked {
            subject,
            label,
            verifier,
        } => {
            sqlx::query(
                "UPDATE attestation SET status = 'revoked', ended_height = $4
                  WHERE subject = $1 AND label = $2 AND verifier = $3",
            )
            .bind(bytes(&subject.0))
            .bind(label.as_str())
            .bind(bytes(&verifier.0))
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&subject.0), bytes(&verifier.0)]);
        }
        IdentityEvent::OrganizationCreated {
            organization,
            path,
            parent,
            creator,
        } => {
            sqlx::query(
                "INSERT INTO organization (id, path, parent, depth, creator, created_height,
                                           created_tx)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(bytes(&organization.0))
            .bind(path.as_str())
            .bind(parent.map(|parent| bytes(&parent.0)))
            .bind(path.depth() as i32)
            .bind(bytes(&creator.0))
            .bind(at.height)
            .bind(&at.transaction_id)
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&organization.0), bytes(&creator.0)]);
        }
        IdentityEvent::MemberInvited {
            organization,
            subject,
            role,
            by,
        } => {
            let (kind, subject_id) = subject_columns(subject);
            sqlx::query(
                "UPDATE invitation SET status = 'replaced', resolved_height = $3, resolved_by = $4
                  WHERE organization = $1 AND subject = $2 AND status = 'pending'",
            )
            .bind(bytes(&organization.0))
            .bind(&subject_id)
            .bind(at.height)
            .bind(bytes(&by.0))
            .execute(&mut *connection)
            .await?;
            sqlx::query(
                "INSERT INTO invitation (organization, subject_kind, subject, invited_height,
                                         invited_tx_index, role, invited_by, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
            )
            .bind(bytes(&organization.0))
            .bind(kind)
            .bind(&subject_id)
            .bind(at.height)
            .bind(at.transaction_index)
            .bind(role.name())
            .bind(bytes(&by.0))
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&organization.0), subject_id, bytes(&by.0)]);
        }
        IdentityEvent::InvitationResolved {
            organization,
            subject,
            outcome,
            by,
            ..
        } => {
            let (_, subject_id) = subject_columns(subject);
            sqlx::query(
                "UPDATE invitation SET status = $3, resolved_height = $4, resolved_by = $5
                  WHERE organization = $1 AND subject = $2 AND status = 'pending'",
            )
            .bind(bytes(&organization.0))
            .bind(&subject_id)
            .bind(outcome.name())
            .bind(at.height)
            .bind(bytes(&by.0))
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&organization.0), subject_id, bytes(&by.0)]);
        }
        IdentityEvent::RoleGranted {
            organization,
            subject,
            role,
            by,
            ..
        } => {
            let (kind, subject_id) = subject_columns(subject);
            sqlx::query(
                "INSERT INTO organization_role (organization, subject_kind, subject, role,
                                                granted_height, granted_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (organization, subject) DO UPDATE
                    SET subject_kind = EXCLUDED.subject_kind, role = EXCLUDED.role,
                        granted_height = EXCLUDED.granted_height,
                        granted_by = EXCLUDED.granted_by",
            )
            .bind(bytes(&organization.0))
            .bind(kind)
            .bind(&subject_id)
            .bind(role.name())
            .bind(at.height)
            .bind(bytes(&by.0))
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&organization.0), subject_id, bytes(&by.0)]);
        }
        IdentityEvent::RoleRevoked {
            organization,
            subject,
            by,
            ..
        } => {
            let (_, subject_id) = subject_columns(subject);
            sqlx::query("DELETE FROM organization_role WHERE organization = $1 AND subject = $2")
                .bind(bytes(&organization.0))
                .bind(&subject_id)
                .execute(&mut *connection)
                .await?;
            concerns.extend([bytes(&organization.0), subject_id, bytes(&by.0)]);
        }
        IdentityEvent::Vouched {
            voucher,
            target,
            weight,
            claim,
        } => {
            sqlx::query(
                "INSERT INTO vouch (voucher, target, weight, claim, vouched_height)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (voucher, target) DO UPDATE
                    SET weight = EXCLUDED.weight, claim = EXCLUDED.claim,
                        vouched_height = EXCLUDED.vouched_height",
            )
            .bind(bytes(&voucher.0))
            .bind(bytes(&target.0))
            .bind(i16::from(*weight))
            .bind(claim.as_deref())
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&voucher.0), bytes(&target.0)]);
        }
        IdentityEvent::VouchWithdrawn { voucher, target } => {
            sqlx::query("DELETE FROM vouch WHERE voucher = $1 AND target = $2")
                .bind(bytes(&voucher.0))
                .bind(bytes(&target.0))
                .execute(&mut *connection)
                .await?;
            concerns.extend([bytes(&voucher.0), bytes(&target.0)]);
        }
        IdentityEvent::AuthorizationGranted {
            identity,
            organization,
            scopes,
        } => {
            sqlx::query(
                "INSERT INTO authorization_grant (identity, organization, scopes, granted_height)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (identity, organization) DO UPDATE
                    SET scopes = EXCLUDED.scopes, granted_height = EXCLUDED.granted_height",
            )
            .bind(bytes(&identity.0))
            .bind(bytes(&organization.0))
            .bind(
                scopes
                    .iter()
                    .map(|scope| scope.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(at.height)
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&identity.0), bytes(&organization.0)]);
        }
        IdentityEvent::AuthorizationRevoked {
            identity,
            organization,
        } => {
            sqlx::query(
                "DELETE FROM authorization_grant WHERE identity = $1 AND organization = $2",
            )
            .bind(bytes(&identity.0))
            .bind(bytes(&organization.0))
            .execute(&mut *connection)
            .await?;
            concerns.extend([bytes(&identity.0), bytes(&organization.0)]);
        }
    }
    concerns.sort();
    concerns.dedup();
    sqlx::query(
        "INSERT INTO activity (height, event_index, concerns, transaction_id, kind)
         SELECT $1, $2, c, $3, $4 FROM UNNEST($5::bytea[]) AS c",
    )
    .bind(at.height)
    .bind(at.event_index)
    .bind(&at.transaction_id)
    .bind(event.kind())
    .bind(concerns)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn insert_key(
    connection: &mut PgConnection,
    at: &At,
    identity: &Hash32,
    public_key: &[u8; 32],
    added_by: &str,
    replaces: Option<&[u8; 32]>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_key (public_key, identity, status, added_by, added_height, added_tx,
                                   replaces)
         VALUES ($1, $2, 'active', $3, $4, $5, $6)",
    )
    .bind(public_key.to_vec())
    .bind(bytes(identity))
    .bind(added_by)
    .bind(at.height)
    .bind(&at.transaction_id)
    .bind(replaces.map(|key| key.to_vec()))
    .execute(&mut *connection)
    .await?;
    Ok(())
}
