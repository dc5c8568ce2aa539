//! The tables as diesel sees them (kept by hand in step with `goodrobot-migrations`).

diesel::table! {
    users (id) {
        id -> Int8,
        tg_id -> Int8,
        role -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        is_active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    orders (id) {
        id -> Int8,
        client_id -> Int8,
        master_id -> Nullable<Int8>,
        category -> Text,
        address -> Text,
        description -> Text,
        when_at -> Timestamptz,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bids (id) {
        id -> Int8,
        order_id -> Int8,
        master_id -> Int8,
        price -> Int8,
        note -> Text,
        status -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(bids -> orders (order_id));
diesel::allow_tables_to_appear_in_same_query!(users, orders, bids);
