fn main() {
    let url = std::env::args().nth(1).unwrap();
    let s = reqivo::Session::builder().build().unwrap();
    for _ in 0..3 {
        let r = s.get(&url).send().unwrap();
        println!("{} {:?} {:?}", r.status(), r.headers(), r.timings());
        let b = r.bytes().unwrap();
        println!("{} bytes", b.len());
    }
    println!("{:?}", s.pool_stats());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let s = reqivo::AsyncSession::builder().build().unwrap();
        for _ in 0..3 {
            let r = s.get(&url).send().await.unwrap();
            println!("{} {:?}", r.status(), r.timings());
            let b = r.bytes().await.unwrap();
            println!("{} bytes", b.len());
        }
        println!("{:?}", s.pool_stats());
    });
}
