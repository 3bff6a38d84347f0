//! Storage tests of booked callbacks (`store/callbacks.rs`): a booking
//! stored, moved, opened and made; the open ones are what a restart
//! reloads; a cancelled or failed one is not; each on SQLite and
//! PostgreSQL (see `store_common`).

#[macro_use]
mod store_common;

use switchboard::store::{Callback, CallbackState, Chosen, Store, StoreError};

scenarios! {
    store: [a_booking_is_stored_moved_opened_and_made, only_open_bookings_are_reloaded],
    url: [bookings_survive_a_reopen],
}

/// 2026-12-01T10:00Z: real times must fit every column.
const NOW: i64 = 1_796_119_200_000;

fn booking(id: &str, due_at: i64) -> Callback {
    Callback {
        id: id.into(),
        customer_jid: "juliet@capulet.example".into(),
        entry_jid: "help@support.example".into(),
        queue: "general".into(),
        agent: "alice@agents.example".into(),
        how: Chosen::Named,
        due_at,
        timezone: "Europe/Paris".into(),
        lang: Some("fr".into()),
        from_session: Some("s-1".into()),
        session_id: None,
        state: CallbackState::Booked,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn a_booking_is_stored_moved_opened_and_made(store: &Store) {
    let mut cb = booking("cb-1", NOW + 3_600_000);
    store.callback_create(&cb).await.unwrap();
    assert_eq!(store.callback_get("cb-1").await.unwrap(), Some(cb.clone()));
    // The same id twice is refused by the database, not overwritten.
    let again = store.callback_create(&cb).await.unwrap_err();
    assert!(again.is_refused(), "{again}");
    (cb.agent, cb.how, cb.due_at, cb.updated_at) = (
        "bob@agents.example".into(),
        Chosen::Anyone,
        NOW + 7_200_000,
        NOW + 1,
    );
    store.callback_update(&cb).await.unwrap();
    cb.state = CallbackState::Opened;
    cb.session_id = Some("s-2".into());
    store.callback_update(&cb).await.unwrap();
    assert_eq!(store.callback_get("cb-1").await.unwrap(), Some(cb.clone()));
    assert_eq!(store.callbacks_open().await.unwrap(), vec![cb.clone()]);
    cb.state = CallbackState::Made;
    store.callback_update(&cb).await.unwrap();
    assert!(store.callbacks_open().await.unwrap().is_empty());
    let missing = store
        .callback_update(&booking("cb-9", NOW))
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            StoreError::NotFound {
                what: "callback",
                ..
            }
        ),
        "{missing}"
    );
}

async fn only_open_bookings_are_reloaded(store: &Store) {
    for (i, state) in [
        CallbackState::Booked,
        CallbackState::Cancelled,
        CallbackState::Failed,
        CallbackState::Opened,
        CallbackState::Made,
    ]
    .into_iter()
    .enumerate()
    {
        let mut cb = booking(&format!("cb-{i}"), NOW + 1000 - i as i64);
        cb.state = state;
        store.callback_create(&cb).await.unwrap();
    }
    let open: Vec<String> = store
        .callbacks_open()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    // Soonest first.
    assert_eq!(open, ["cb-3", "cb-0"]);
}

async fn bookings_survive_a_reopen(store: &Store, url: &str) {
    let cb = booking("cb-1", NOW + 60_000);
    store.callback_create(&cb).await.unwrap();
    let reopened = Store::connect(url).await.unwrap();
    assert_eq!(reopened.callbacks_open().await.unwrap(), vec![cb]);
}
