//! The request loops: one over `AsyncSession`, one over the blocking `Session`. They differ only in
//! `.await`; the plan (what to send) and the output (what to print) are shared.

use reqivo::{AsyncSession, Session};

use crate::args::Options;
use crate::failure::Failure;
use crate::output::{head_of, Output};
use crate::plan::{configure, Plan};

pub fn run(opts: &Options) -> Result<(), Failure> {
    let plan = Plan::new(opts)?;
    let mut out = Output::new(opts);
    if opts.sync {
        // No runtime at all on this path: the blocking session works on plain std::net sockets.
        run_blocking(opts, &plan, &mut out)
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::local("starting the tokio runtime", e))?;
        runtime.block_on(run_async(opts, &plan, &mut out))
    }
}

/// One session for all URLs, so a keep-alive connection is reused from one URL to the next.
async fn run_async(opts: &Options, plan: &Plan, out: &mut Output) -> Result<(), Failure> {
    let session = configure(AsyncSession::builder(), opts).build()?;
    for url in &plan.urls {
        out.request(plan, url);
        let mut resp = plan.apply(session.request(plan.method.clone(), url)).send().await?;
        out.response_head(url, &head_of!(resp))?;
        while let Some(chunk) = resp.chunk().await? {
            out.body(&chunk)?;
        }
        out.finish(resp.timings(), resp.trailers());
    }
    Ok(())
}

/// The blocking twin of [`run_async`], line for line.
fn run_blocking(opts: &Options, plan: &Plan, out: &mut Output) -> Result<(), Failure> {
    let session = configure(Session::builder(), opts).build()?;
    for url in &plan.urls {
        out.request(plan, url);
        let mut resp = plan.apply(session.request(plan.method.clone(), url)).send()?;
        out.response_head(url, &head_of!(resp))?;
        while let Some(chunk) = resp.chunk()? {
            out.body(&chunk)?;
        }
        out.finish(resp.timings(), resp.trailers());
    }
    Ok(())
}
