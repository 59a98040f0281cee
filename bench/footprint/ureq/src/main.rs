//! One GET with ureq; the URL is the first argument.
fn main() -> Result<(), ureq::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let mut resp = ureq::get(&url).call()?;
    println!("{} {}", resp.status(), resp.body_mut().read_to_string()?.len());
    Ok(())
}
