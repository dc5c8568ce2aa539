//! Tests of the local Redis Cluster harness itself (`goodrobot_testkit::redis_cluster`).

use goodrobot_testkit::redis_cluster::{ClusterNode, RedisCluster, key_slot};

/// The slot ranges on the CLUSTER NODES line of `port`, as `port` itself reports them.
fn own_slots(cluster: &RedisCluster, port: u16) -> Vec<String> {
    let text = cluster.cli(port, &["CLUSTER", "NODES"]);
    let line = text.lines().find(|l| l.contains("myself")).expect("a myself line");
    line.split_whitespace().skip(8).map(str::to_owned).collect()
}

fn assert_three_masters_each_with_a_replica(nodes: &[ClusterNode]) {
    assert_eq!(nodes.len(), 6, "{nodes:?}");
    let masters: Vec<&ClusterNode> = nodes.iter().filter(|n| n.master).collect();
    assert_eq!(masters.len(), 3, "{nodes:?}");
    for master in masters {
        let replicas = nodes.iter().filter(|n| n.master_id.as_ref() == Some(&master.id)).count();
        assert_eq!(replicas, 1, "replicas of {master:?} in {nodes:?}");
    }
}

#[test]
fn a_private_cluster_has_three_masters_each_with_a_replica() {
    let cluster = RedisCluster::start();
    assert_three_masters_each_with_a_replica(&cluster.nodes());
    let masters = cluster.masters();
    let seeds: Vec<String> = masters.iter().map(|m| format!("redis://127.0.0.1:{}", m.port)).collect();
    assert_eq!(cluster.url(), seeds.join(","));
    // A key's master, found by key_slot, stores it without redirecting.
    for key in ["a", "b", "{q:default}:ready", "user:42"] {
        let master = cluster.master_of_slot(key_slot(key));
        assert_eq!(cluster.cli(master.port, &["SET", key, "v"]).trim(), "OK", "SET {key} on {}", master.port);
        let owned = own_slots(&cluster, master.port);
        assert!(!owned.is_empty(), "{} serves {key} but owns no slot", master.port);
    }
}

#[test]
fn key_slot_is_what_cluster_keyslot_says() {
    let cluster = RedisCluster::shared();
    assert!(std::ptr::eq(cluster, RedisCluster::shared()), "one shared cluster per process");
    let port = cluster.masters()[0].port;
    let keys = [
        "{q:default}:ready",
        "{q:default}:delayed",
        "goodrobot:cache:x",
        "foo",
        "123456789",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{}",
        "{user1000}.following",
        "ключ",
    ];
    for key in keys {
        let said: u16 = cluster.cli(port, &["CLUSTER", "KEYSLOT", key]).trim().parse().expect("a slot");
        assert_eq!(key_slot(key), said, "slot of {key:?}");
    }
}

#[test]
fn move_all_slots_empties_a_master_and_its_keys_follow() {
    let cluster = RedisCluster::start();
    let masters = cluster.masters();
    let (from, to) = (masters[0].port, masters[1].port);
    let key = (0..).map(|i| format!("k{i}")).find(|k| cluster.master_of_slot(key_slot(k)).port == from).unwrap();
    assert_eq!(cluster.cli(from, &["SET", &key, "kept"]).trim(), "OK");

    cluster.move_all_slots(from, to);
    assert_eq!(own_slots(&cluster, from), Vec::<String>::new(), "{from} still has slots");
    assert_eq!(cluster.master_of_slot(key_slot(&key)).port, to);
    assert_eq!(cluster.cli(to, &["GET", &key]).trim(), "kept");
    assert_eq!(cluster.masters().len(), 3, "the emptied master stays a master");

    cluster.move_slots(to, from, 100);
    let back: u32 = own_slots(&cluster, from).iter().map(|r| slots_in(r)).sum();
    assert_eq!(back, 100);
}

fn slots_in(range: &str) -> u32 {
    match range.split_once('-') {
        Some((a, b)) => b.parse::<u32>().unwrap() - a.parse::<u32>().unwrap() + 1,
        None => 1,
    }
}

#[test]
fn a_killed_master_is_replaced_by_its_replica_and_rejoins_as_a_replica() {
    let cluster = RedisCluster::start();
    let victim = cluster.master_of_slot(key_slot("{q:default}:ready"));
    let replica = cluster.nodes().into_iter().find(|n| n.master_id.as_ref() == Some(&victim.id)).unwrap();

    cluster.kill(victim.port);
    let promoted = cluster.wait_failover_of(victim.port);
    assert_eq!(promoted.port, replica.port);
    assert!(promoted.master);
    assert_eq!(cluster.master_of_slot(key_slot("{q:default}:ready")).port, replica.port);
    assert!(!cluster.url().contains(&format!(":{},", victim.port)));
    cluster.wait_ok();

    cluster.restart(victim.port);
    let rejoined = cluster.nodes().into_iter().find(|n| n.port == victim.port).unwrap();
    assert_eq!(rejoined.master_id.as_ref(), Some(&promoted.id), "{rejoined:?}");

    cluster.manual_failover(victim.port);
    assert_eq!(cluster.master_of_slot(key_slot("{q:default}:ready")).port, victim.port);
    assert_three_masters_each_with_a_replica(&cluster.nodes());

    // A paused replica does not stop the cluster; resumed, it is part of it again.
    cluster.pause(replica.port);
    cluster.wait_ok();
    cluster.resume(replica.port);
    cluster.wait_ok();
}
