//! The macros that expand a contract suite into `#[tokio::test]` functions of the caller.
//!
//! Each generated test evaluates the fixture expression (an `async` block), converts its
//! output `Into` the suite's fixture type and calls the suite function of the same name.

/// Generates the tests; `single` ones run on a current-thread runtime, `multi` ones on four
/// worker threads (real parallelism).
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($suite:ident, $fixture:expr; single: [$($single:ident),* $(,)?]; multi: [$($multi:ident),* $(,)?]) => {
        $(
            #[$crate::tokio::test(crate = "::goodrobot_testkit::tokio")]
            async fn $single() {
                $crate::$suite::$single(::core::convert::Into::into($fixture.await)).await;
            }
        )*
        $(
            #[$crate::tokio::test(flavor = "multi_thread", worker_threads = 4, crate = "::goodrobot_testkit::tokio")]
            async fn $multi() {
                $crate::$suite::$multi(::core::convert::Into::into($fixture.await)).await;
            }
        )*
    };
}

/// The repository contract; the fixture gives a [`RepoFixture`](crate::RepoFixture) over a
/// fresh, empty store.
#[macro_export]
macro_rules! repository_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(repository, $fixture;
            single: [
                user_create_then_get_returns_it,
                user_get_of_a_missing_id_is_not_found,
                user_found_by_tg_id_is_that_user_and_an_unknown_one_is_not_found,
                user_duplicate_tg_id_is_a_conflict_on_tg_id,
                user_duplicate_phone_is_a_conflict_on_phone,
                user_update_applies_the_patch,
                user_update_to_a_taken_phone_is_a_conflict_on_phone,
                user_phone_freed_by_an_update_can_be_taken,
                user_update_of_a_missing_id_is_not_found,
                user_list_pages_are_stable_under_inserts,
                order_create_then_get_returns_it_new_and_unassigned,
                order_create_for_a_missing_client_is_not_found_user,
                order_get_of_a_missing_id_is_not_found,
                order_list_pages_through_matching_orders_in_id_order,
                order_count_is_the_number_of_matching_orders,
                order_legal_transition_changes_the_status,
                order_illegal_transition_is_refused_and_changes_nothing,
                order_transition_of_a_missing_id_is_not_found,
                bid_create_then_get_returns_it_active,
                bid_on_a_missing_order_is_not_found_order,
                bid_by_a_missing_master_is_not_found_user,
                bid_on_an_assigned_order_is_order_not_open,
                bid_second_active_one_by_the_same_master_is_duplicate_active_bid,
                bid_list_for_order_is_that_orders_bids_in_id_order,
                bid_list_for_a_missing_order_is_not_found,
                select_assigns_the_order_and_rejects_the_other_bids,
                select_again_of_the_selected_bid_is_already_selected_and_changes_nothing,
                select_of_another_bid_of_an_assigned_order_is_order_not_open,
                select_of_a_missing_bid_is_not_found,
            ];
            multi: [
                select_fifty_concurrent_selections_of_one_order_have_one_winner,
            ]
        );
    };
}

/// The cache contract; the fixture gives a [`CacheFixture`](crate::CacheFixture) or an
/// `Arc<dyn Cache>` (real time).
#[macro_export]
macro_rules! cache_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(cache, $fixture;
            single: [
                cache_set_then_get_returns_the_value,
                cache_get_of_a_missing_key_is_none,
                cache_set_overwrites_the_value,
                cache_delete_removes_the_key_and_says_it_existed,
                cache_delete_of_a_missing_key_says_it_did_not_exist,
                cache_value_is_readable_before_its_ttl,
                cache_value_expires_after_its_ttl,
                cache_json_round_trips_through_cache_ext,
                cache_json_of_another_shape_is_a_serialization_error,
                cache_invalidate_removes_the_json_value,
                cache_ping_answers,
            ];
            multi: []
        );
    };
}

/// The rate-limiter contract; the fixture gives a
/// [`RateLimiterFixture`](crate::RateLimiterFixture) or an `Arc<dyn RateLimiter>` (real time).
#[macro_export]
macro_rules! rate_limiter_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(rate_limit, $fixture;
            single: [
                rate_allows_up_to_the_limit_then_refuses,
                rate_refusal_says_when_room_appears,
                rate_keys_are_limited_independently,
                rate_room_appears_after_reset_after,
            ];
            multi: [
                rate_concurrent_checks_never_allow_more_than_the_limit,
            ]
        );
    };
}

/// The broker contract; the fixture gives a [`BrokerFixture`](crate::BrokerFixture).
#[macro_export]
macro_rules! broker_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(broker, $fixture;
            single: [
                broker_enqueued_task_is_fetched_then_acked,
                broker_concurrent_acks_over_queues_each_get_their_own_answer,
                broker_fetch_of_an_empty_queue_returns_nothing,
                broker_fetch_waits_for_an_enqueue,
                broker_higher_priority_is_fetched_first_and_fifo_within_one,
                broker_fetch_serves_queues_in_the_order_given,
                broker_fetch_claims_at_most_max,
                broker_delayed_task_is_not_fetched_before_its_eta,
                broker_delayed_task_is_fetched_once_due,
                broker_waiting_fetch_wakes_at_a_new_delayed_tasks_eta,
                broker_bulk_enqueue_of_1000_is_fetched_completely,
                broker_stats_count_ready_delayed_in_flight_and_dead,
                broker_ping_answers,
                broker_expired_lease_is_redelivered_with_the_next_attempt,
                broker_stale_token_is_refused_by_every_settling_call,
                broker_renewed_lease_is_not_redelivered,
                broker_renew_of_a_lost_lease_is_false,
                broker_released_task_is_fetched_again_without_counting_an_attempt,
                broker_released_task_goes_before_the_others_of_its_priority,
                broker_retry_reschedules_the_new_message_at_its_time,
                broker_retry_due_now_is_ready_at_once,
                broker_dead_lettered_task_is_counted_and_not_fetched,
                broker_replay_requeues_a_dead_task_with_retries_reset,
                broker_replay_of_a_task_that_is_not_dead_is_not_found,
                broker_revoked_waiting_task_is_not_fetched,
                broker_revoked_delayed_task_is_removed,
                broker_revoke_reason_is_reported_until_its_ttl,
                broker_revoke_reason_expires_after_its_ttl,
                broker_delivery_carries_the_revoke_reason,
                broker_dedup_key_returns_the_first_task_while_it_waits,
                broker_dedup_key_holds_while_the_task_is_in_flight,
                broker_dedup_key_is_freed_on_ack,
                broker_dedup_key_is_freed_on_dead_letter,
                broker_dedup_key_is_freed_on_revoke,
            ];
            multi: [
                broker_concurrent_fetchers_never_share_a_live_lease,
            ]
        );
    };
}

/// The result-backend contract; the fixture gives a [`ResultsFixture`](crate::ResultsFixture)
/// or an `Arc<dyn ResultBackend>`.
#[macro_export]
macro_rules! results_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(results, $fixture;
            single: [
                results_create_stores_a_new_record,
                results_create_fresh_stores_each_record_as_create_would,
                results_create_does_not_overwrite_an_existing_record,
                results_record_creates_a_missing_record,
                results_record_applies_to_an_existing_record,
                results_record_applied_writes_what_record_writes,
                results_record_applied_creates_a_missing_record,
                results_record_applied_says_when_the_guard_refused,
                results_terminal_record_is_final,
                results_stale_fenced_write_is_refused,
                results_update_of_a_missing_record_is_none,
                results_add_child_appends_each_child_once,
                results_add_child_to_a_missing_parent_creates_nothing,
                results_delete_removes_the_record,
                results_wait_returns_when_the_record_finishes,
                results_wait_returns_the_unfinished_record_at_timeout,
                results_wait_for_a_missing_record_is_none,
                results_ping_answers,
            ];
            multi: [
                results_wait_returns_when_another_thread_finishes_the_record,
            ]
        );
    };
}

/// The result-backend expiry contract, for a backend built with a short TTL; the fixture
/// gives a [`ResultsTtlFixture`](crate::ResultsTtlFixture).
#[macro_export]
macro_rules! results_ttl_contract_tests {
    ($fixture:expr) => {
        $crate::__contract_tests!(results, $fixture;
            single: [
                results_record_expires_after_the_ttl,
                results_each_write_refreshes_the_expiry,
            ];
            multi: []
        );
    };
}
