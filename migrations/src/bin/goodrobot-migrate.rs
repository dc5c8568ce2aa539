//! `goodrobot-migrate run | list | revert`: applies, lists or reverts GoodRobot's Postgres
//! migrations on the database named by `DATABASE_URL` (a `.env` file is honoured).

use anyhow::{Context, bail};

const USAGE: &str = "usage: goodrobot-migrate run | list | revert   (reads DATABASE_URL)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env file is normal; the environment alone may name the database.
    let _ = dotenvy::dotenv();
    let command = std::env::args().nth(1).unwrap_or_default();
    if !matches!(command.as_str(), "run" | "list" | "revert") {
        bail!("{USAGE}");
    }
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    match command.as_str() {
        "run" => {
            let applied = goodrobot_migrations::run_pending(&url).await?;
            if applied.is_empty() {
                println!("nothing to apply: the schema is up to date");
            }
            for name in applied {
                println!("applied {name}");
            }
        }
        "list" => {
            for m in goodrobot_migrations::list(&url).await? {
                println!("[{}] {}", if m.applied { "X" } else { " " }, m.name);
            }
        }
        _ => match goodrobot_migrations::revert_last(&url).await? {
            Some(name) => println!("reverted {name}"),
            None => println!("nothing to revert: no migration is applied"),
        },
    }
    Ok(())
}
