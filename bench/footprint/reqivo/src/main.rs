//! One GET with reqivo's blocking session; the URL is the first argument.
fn main() -> Result<(), reqivo::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let session = reqivo::Session::builder().build()?;
    let resp = session.get(url).send()?;
    println!("{} {}", resp.status(), resp.text()?.len());
    Ok(())
}
