//! The chat domain on a real chain (harness in `chat_support`):
//! identities registered by mined transactions; every chat operation is a
//! real transaction (`Payload::Chat`) checked by
//! `chain::domains::chat::prepare` (typed refusals), its change applied,
//! reverted and re-applied, then mined in a block the chain accepts
//! (same events, same chat state); every refused operation is also
//! refused by the chain in a block.
//!
//! Covered: a direct message readable in clear by both members and
//! present only as ciphertext in the state and events; readers cannot
//! post; only admins manage members; a removed member cannot post and
//! cannot open the new epoch's key or its messages; a post under an old
//! epoch is refused; seals must go to active keys of members; a rotated
//! key cannot act; receipts, answers and sealing; news publish, update,
//! withdraw.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod chat_support;
mod common;

use chain::domains::chat::{ChatEvent, ChatRuleError};
use chat_support::{Chat, contains, posted, text};
use common::key;
use ledger::codec;
use ledger::crypto::sealing::ContentKey;
use ledger::payload::chat::{
    ChannelKind, ChatAction, ChatCryptoError, MemberRole, MessageBody, MessageContent, MessageId,
    NewsContent, NewsId, Receipt, ReceiptStatus, direct_body, group_body, group_key_context,
    open_seal, read_body, seal_to,
};
use ledger::payload::identity::IdentityAction;
use ledger::{Hash32, IdentityId, Timestamp};
use rand_core::OsRng;

#[test]
fn a_direct_message_is_read_in_clear_by_its_members_only() {
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11), ("eve", 12)]);
    let (alice, bob, eve) = (ids[0], ids[1], ids[2]);
    let (_, events) = chat.run(
        ChatAction::CreateChannel {
            creator: alice,
            kind: ChannelKind::Direct,
            name: "alice-bob".into(),
            members: vec![(bob, MemberRole::Writer)],
            seals: vec![],
        },
        &key(10),
    );
    let channel = *events[0].channel();
    let chain_id = chat.chain_id();
    let secret = "the vault code is 7341";
    let body = direct_body(
        &chain_id,
        &channel,
        &alice,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &text(secret),
        &mut OsRng,
    )
    .unwrap();
    let (_, events) = chat.run(
        ChatAction::Post {
            author: alice,
            channel,
            reply_to: None,
            buttons: 0,
            body,
        },
        &key(10),
    );
    // The event (what the read model and API get) holds ciphertext only.
    for event in &events {
        assert!(!contains(&codec::encode(event), secret.as_bytes()));
    }
    let (_, body) = posted(&events);
    for reader in [10, 11] {
        assert_eq!(
            read_body(&body, &chain_id, &channel, &alice, &key(reader), None)
                .unwrap()
                .text,
            secret
        );
    }
    assert!(matches!(
        read_body(&body, &chain_id, &channel, &alice, &key(12), None),
        Err(ChatCryptoError::NotARecipient { .. })
    ));
    // Eve is no member: she can neither post nor send receipts.
    let eve_body = direct_body(
        &chain_id,
        &channel,
        &eve,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &text("hi"),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Post {
            author: eve,
            channel,
            reply_to: None,
            buttons: 0,
            body: eve_body,
        },
        &key(12),
        ChatRuleError::NotMember {
            channel,
            identity: eve,
        },
    );
    // A direct message must be sealed to both members, and only to them.
    let only_alice = direct_body(
        &chain_id,
        &channel,
        &bob,
        &[(bob, key(11).public_key())],
        &text("note to self"),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: only_alice,
        },
        &key(11),
        ChatRuleError::MissingSeal {
            what: "direct message key",
            channel,
            member: alice,
        },
    );
    let to_eve = direct_body(
        &chain_id,
        &channel,
        &bob,
        &[
            (alice, key(10).public_key()),
            (bob, key(11).public_key()),
            (eve, key(12).public_key()),
        ],
        &text("leak"),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: to_eve,
        },
        &key(11),
        ChatRuleError::SealForNonMember {
            what: "direct message key",
            channel,
            member: eve,
        },
    );
    // A clear post in a direct channel is refused.
    chat.refused(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: MessageBody::Clear(text("in the clear")),
        },
        &key(11),
        ChatRuleError::WrongKind {
            action: "posting",
            kind: "direct",
            detail: "must be sealed to both members",
        },
    );
    // Its members never change.
    chat.refused(
        ChatAction::AddMember {
            actor: alice,
            channel,
            member: eve,
            role: MemberRole::Reader,
            seals: vec![],
        },
        &key(10),
        ChatRuleError::DirectChannelFixed { channel },
    );
    // Signed by a key that is not Alice's: refused.
    chat.refused(
        ChatAction::SealMessage {
            actor: alice,
            channel,
            message: MessageId(Hash32([1; 32])),
        },
        &key(11),
        ChatRuleError::NotActiveKey {
            public_key: key(11).public_key(),
            identity: alice,
        },
    );
    chat.mine_pending();
}

#[test]
fn readers_cannot_post_and_only_admins_manage_members() {
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11), ("carol", 12), ("dave", 13)]);
    let (alice, bob, carol, dave) = (ids[0], ids[1], ids[2], ids[3]);
    let (channel, group_key) = chat.group(
        (alice, &key(10)),
        &[
            (bob, MemberRole::Writer, key(11).public_key()),
            (carol, MemberRole::Reader, key(12).public_key()),
        ],
    );
    let chain_id = chat.chain_id();
    let body = |author: &IdentityId, words: &str| {
        group_body(
            &group_key,
            &chain_id,
            &channel,
            author,
            0,
            &text(words),
            &mut OsRng,
        )
        .unwrap()
    };
    chat.run(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: body(&bob, "writers write"),
        },
        &key(11),
    );
    chat.refused(
        ChatAction::Post {
            author: carol,
            channel,
            reply_to: None,
            buttons: 0,
            body: body(&carol, "readers read"),
        },
        &key(12),
        ChatRuleError::ReaderCannotPost {
            channel,
            identity: carol,
        },
    );
    // Writers cannot manage members or roles.
    chat.refused(
        ChatAction::ChangeRole {
            actor: bob,
            channel,
            member: carol,
            role: MemberRole::Writer,
        },
        &key(11),
        ChatRuleError::NotAdmin {
            channel,
            identity: bob,
            role: MemberRole::Writer,
            action: "change roles",
        },
    );
    let to_dave = seal_to(
        &group_key,
        &[(dave, key(13).public_key())],
        &group_key_context(&chain_id, &channel, 0),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::AddMember {
            actor: bob,
            channel,
            member: dave,
            role: MemberRole::Reader,
            seals: to_dave.clone(),
        },
        &key(11),
        ChatRuleError::NotAdmin {
            channel,
            identity: bob,
            role: MemberRole::Writer,
            action: "add members",
        },
    );
    // The admin adds Dave, who opens the current key.
    chat.run(
        ChatAction::AddMember {
            actor: alice,
            channel,
            member: dave,
            role: MemberRole::Reader,
            seals: to_dave,
        },
        &key(10),
    );
    assert_eq!(chat.chat.role(&channel, &dave), Some(MemberRole::Reader));
    // Promoted, Carol posts; the last admin cannot step down.
    chat.run(
        ChatAction::ChangeRole {
            actor: alice,
            channel,
            member: carol,
            role: MemberRole::Writer,
        },
        &key(10),
    );
    chat.run(
        ChatAction::Post {
            author: carol,
            channel,
            reply_to: None,
            buttons: 0,
            body: body(&carol, "now I write"),
        },
        &key(12),
    );
    chat.refused(
        ChatAction::ChangeRole {
            actor: alice,
            channel,
            member: alice,
            role: MemberRole::Writer,
        },
        &key(10),
        ChatRuleError::LastAdmin { channel },
    );
    assert_eq!(chat.chat.channel(&channel).unwrap().members, 4);
    assert_eq!(chat.chat.channel(&channel).unwrap().admins, 1);
    chat.mine_pending();
}

#[test]
fn a_removed_member_cannot_post_nor_read_the_next_epoch() {
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11), ("mallory", 12)]);
    let (alice, bob, mallory) = (ids[0], ids[1], ids[2]);
    let (channel, epoch0) = chat.group(
        (alice, &key(10)),
        &[
            (bob, MemberRole::Writer, key(11).public_key()),
            (mallory, MemberRole::Writer, key(12).public_key()),
        ],
    );
    let chain_id = chat.chain_id();
    // Removing Mallory needs the new key sealed to every remaining member.
    let epoch1 = ContentKey::random(&mut OsRng);
    let context1 = group_key_context(&chain_id, &channel, 1);
    let only_alice = seal_to(
        &epoch1,
        &[(alice, key(10).public_key())],
        &context1,
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::RemoveMember {
            actor: alice,
            channel,
            member: mallory,
            seals: only_alice,
        },
        &key(10),
        ChatRuleError::MissingSeal {
            what: "new epoch key",
            channel,
            member: bob,
        },
    );
    let seals = seal_to(
        &epoch1,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        &context1,
        &mut OsRng,
    )
    .unwrap();
    let (_, events) = chat.run(
        ChatAction::RemoveMember {
            actor: alice,
            channel,
            member: mallory,
            seals,
        },
        &key(10),
    );
    assert_eq!(chat.chat.channel(&channel).unwrap().epoch, 1);
    let new_seals = events
        .iter()
        .find_map(|event| match event {
            ChatEvent::GroupKeySealed {
                epoch: 1,
                started: true,
                seals,
                ..
            } => Some(seals.clone()),
            _ => None,
        })
        .unwrap();
    // Bob opens the new key; Mallory has no seal of it.
    assert_eq!(open_seal(&new_seals, &key(11), &context1).unwrap(), epoch1);
    assert!(matches!(
        open_seal(&new_seals, &key(12), &context1),
        Err(ChatCryptoError::NotARecipient { .. })
    ));
    // A post under the old epoch is refused (consensus), so every new
    // message is under a key Mallory does not have.
    let stale = group_body(
        &epoch0,
        &chain_id,
        &channel,
        &bob,
        0,
        &text("old key"),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: stale,
        },
        &key(11),
        ChatRuleError::StaleEpoch {
            channel,
            used: 0,
            current: 1,
        },
    );
    let fresh = group_body(
        &epoch1,
        &chain_id,
        &channel,
        &bob,
        1,
        &text("after mallory left"),
        &mut OsRng,
    )
    .unwrap();
    let (_, events) = chat.run(
        ChatAction::Post {
            author: bob,
            channel,
            reply_to: None,
            buttons: 0,
            body: fresh,
        },
        &key(11),
    );
    let (_, body) = posted(&events);
    assert_eq!(
        read_body(&body, &chain_id, &channel, &bob, &key(10), Some(&epoch1))
            .unwrap()
            .text,
        "after mallory left"
    );
    // The only key Mallory ever held (epoch 0) does not open it.
    assert!(read_body(&body, &chain_id, &channel, &bob, &key(12), Some(&epoch0)).is_err());
    // Mallory can no longer post, even with a correct epoch.
    let attempt = group_body(
        &epoch1,
        &chain_id,
        &channel,
        &mallory,
        1,
        &text("let me in"),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Post {
            author: mallory,
            channel,
            reply_to: None,
            buttons: 0,
            body: attempt,
        },
        &key(12),
        ChatRuleError::NotMember {
            channel,
            identity: mallory,
        },
    );
    // Nor re-add herself, nor receive the key by rekey.
    let to_mallory = seal_to(
        &epoch1,
        &[
            (alice, key(10).public_key()),
            (bob, key(11).public_key()),
            (mallory, key(12).public_key()),
        ],
        &group_key_context(&chain_id, &channel, 2),
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::Rekey {
            actor: alice,
            channel,
            seals: to_mallory,
        },
        &key(10),
        ChatRuleError::SealForNonMember {
            what: "new epoch key",
            channel,
            member: mallory,
        },
    );
    chat.mine_pending();
}

#[test]
fn a_rotated_key_cannot_act_and_seals_go_to_active_keys() {
    let (mut chat, ids) = Chat::new(&[("alice", 10), ("bob", 11)]);
    let (alice, bob) = (ids[0], ids[1]);
    // Bob rotates from key 11 to key 21.
    let (rotation, _) = chat.identity_tx(
        IdentityAction::RotateKey {
            identity: bob,
            old_key: key(11).public_key(),
            new_key: key(21).public_key(),
        },
        &key(11),
        Some(&key(21)),
    );
    chat.net.mine(vec![rotation]);
    chat.refused(
        ChatAction::CreateChannel {
            creator: bob,
            kind: ChannelKind::Broadcast,
            name: "bob's news".into(),
            members: vec![],
            seals: vec![],
        },
        &key(11),
        ChatRuleError::NotActiveKey {
            public_key: key(11).public_key(),
            identity: bob,
        },
    );
    // A group key sealed to Bob's retired key is refused.
    let group_key = ContentKey::random(&mut OsRng);
    let seals = seal_to(
        &group_key,
        &[(alice, key(10).public_key()), (bob, key(11).public_key())],
        b"any context",
        &mut OsRng,
    )
    .unwrap();
    chat.refused(
        ChatAction::CreateChannel {
            creator: alice,
            kind: ChannelKind::Group,
            name: "team".into(),
            members: vec![(bob, MemberRole::Writer)],
            seals,
        },
        &key(10),
        ChatRuleError::NotActiveKey {
            public_key: key(11).public_key(),
            identity: bob,
        },
    );
    // With the new key it works.
    chat.group(
        (alice, &key(10)),
        &[(bob, MemberRole::Writer, key(21).public_key())],
    );
    // An unknown identity is refused as a member.
    let stranger = IdentityId(Hash32([0xee; 32]));
    chat.refused(
        ChatAction::CreateChannel {
            creator: alice,
            kind: ChannelKind::Broadcast,
            name: "x".into(),
            members: vec![(stranger, MemberRole::Reader)],
            seals: vec![],
        },
        &key(10),
        ChatRuleError::UnknownIdentity { identity: stranger },
    );
    chat.mine_pending();
}

#[test]
fn receipts_answers_and_sealing() {
    let (mut chat, ids) = Chat::new(&[("city", 10), ("ann", 11), ("ben", 12)]);
    let (city, ann, ben) = (ids[0], ids[1], ids[2]);
    let (_, events) = chat.run(
        ChatAction::CreateChannel {
            creator: city,
            kind: ChannelKind::Broadcast,
            name: "city hall".into(),
            members: vec![(ann, MemberRole::Reader)],
            seals: vec![],
        },
        &key(10),
    );
    let channel = *events[0].channel();
    let poll = MessageContent {
        text: "Open the pool on Sundays?".into(),
        buttons: vec!["yes".into(), "no".into()],
        attachments: vec![],
    };
    let (_, events) = chat.run(
        ChatAction::Post {
            author: city,
            channel,
            reply_to: None,
            buttons: 2,
            body: MessageBody::Clear(poll),
        },
        &key(10),
    );
    let (message, _) = posted(&events);
    // Anyone may answer in a broadcast channel; a batch of receipts.
    let (_, events) = chat.run(
        ChatAction::Receipts {
            member: ben,
            channel,
            receipts: vec![
                Receipt {
                    message,
                    status: ReceiptStatus::Received,
                },
                Receipt {
                    message,
                    status: ReceiptStatus::Read,
                },
                Receipt {
                    message,
                    status: ReceiptStatus::Answered(1),
                },
            ],
        },
        &key(12),
    );
    assert!(matches!(
        &events[0],
        ChatEvent::ReceiptsRecorded { receipts, .. } if receipts.len() == 3
    ));
    chat.refused(
        ChatAction::Receipts {
            member: ann,
            channel,
            receipts: vec![Receipt {
                message,
                status: ReceiptStatus::Answered(2),
            }],
        },
        &key(11),
        ChatRuleError::NoSuchButton {
            message,
            buttons: 2,
            index: 2,
        },
    );
    // A reply must point at a message of the same channel.
    let unknown = MessageId(Hash32([3; 32]));
    chat.refused(
        ChatAction::Post {
            author: city,
            channel,
            reply_to: Some(unknown),
            buttons: 0,
            body: MessageBody::Clear(text("re")),
        },
        &key(10),
        ChatRuleError::UnknownMessage {
            channel,
            message: unknown,
        },
    );
    chat.run(
        ChatAction::Post {
            author: city,
            channel,
            reply_to: Some(message),
            buttons: 0,
            body: MessageBody::Clear(text("results on Friday")),
        },
        &key(10),
    );
    // Only the author or an admin seals; then no more answers.
    chat.refused(
        ChatAction::SealMessage {
            actor: ann,
            channel,
            message,
        },
        &key(11),
        ChatRuleError::NotAuthorOrAdmin {
            identity: ann,
            action: "seal a message",
        },
    );
    chat.run(
        ChatAction::SealMessage {
            actor: city,
            channel,
            message,
        },
        &key(10),
    );
    chat.refused(
        ChatAction::Receipts {
            member: ann,
            channel,
            receipts: vec![Receipt {
                message,
                status: ReceiptStatus::Answered(0),
            }],
        },
        &key(11),
        ChatRuleError::MessageSealed { message },
    );
    // Reading is still acknowledged after sealing.
    chat.run(
        ChatAction::Receipts {
            member: ann,
            channel,
            receipts: vec![Receipt {
                message,
                status: ReceiptStatus::Read,
            }],
        },
        &key(11),
    );
    chat.mine_pending();
}

#[test]
fn news_is_published_updated_and_withdrawn_by_author_or_admin() {
    let (mut chat, ids) = Chat::new(&[("city", 10), ("editor", 11), ("reader", 12)]);
    let (city, editor, reader) = (ids[0], ids[1], ids[2]);
    let (_, events) = chat.run(
        ChatAction::CreateChannel {
            creator: city,
            kind: ChannelKind::Broadcast,
            name: "city news".into(),
            members: vec![(editor, MemberRole::Writer), (reader, MemberRole::Reader)],
            seals: vec![],
        },
        &key(10),
    );
    let channel = *events[0].channel();
    let news = NewsContent {
        title: "Road works on Main Street".into(),
        body: "From Monday to Friday.".into(),
        buttons: vec!["Details".into()],
        sticky_until: Some(Timestamp(5_000)),
        scheduled_at: Some(Timestamp(2_000)),
        target_groups: vec!["traffic".into()],
    };
    chat.refused(
        ChatAction::PublishNews {
            author: reader,
            channel,
            news: news.clone(),
        },
        &key(12),
        ChatRuleError::ReaderCannotPost {
            channel,
            identity: reader,
        },
    );
    let (id, _) = chat.run(
        ChatAction::PublishNews {
            author: editor,
            channel,
            news: news.clone(),
        },
        &key(11),
    );
    let item = NewsId::for_transaction(&id);
    let mut updated = news.clone();
    updated.body = "Until Saturday.".into();
    chat.refused(
        ChatAction::UpdateNews {
            actor: reader,
            channel,
            item,
            news: updated.clone(),
        },
        &key(12),
        ChatRuleError::NotAuthorOrAdmin {
            identity: reader,
            action: "update news",
        },
    );
    chat.run(
        ChatAction::UpdateNews {
            actor: editor,
            channel,
            item,
            news: updated.clone(),
        },
        &key(11),
    );
    // The admin withdraws it; it is gone for good.
    chat.run(
        ChatAction::WithdrawNews {
            actor: city,
            channel,
            item,
        },
        &key(10),
    );
    assert_eq!(chat.chat.news(&item), None);
    chat.refused(
        ChatAction::UpdateNews {
            actor: editor,
            channel,
            item,
            news: updated,
        },
        &key(11),
        ChatRuleError::UnknownNews { channel, item },
    );
    // News only in broadcast channels.
    let (group, _) = chat.group(
        (city, &key(10)),
        &[(editor, MemberRole::Writer, key(11).public_key())],
    );
    chat.refused(
        ChatAction::PublishNews {
            author: city,
            channel: group,
            news,
        },
        &key(10),
        ChatRuleError::WrongKind {
            action: "publishing news",
            kind: "group",
            detail: "is not possible (news lives in broadcast channels)",
        },
    );
    chat.mine_pending();
}
