//! One GET with reqwest; the URL is the first argument.
#[tokio::main]
async fn main() -> Result<(), reqwest::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let resp = reqwest::get(url).await?;
    let status = resp.status();
    println!("{} {}", status, resp.text().await?.len());
    Ok(())
}
