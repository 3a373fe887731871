//! The demo's S3: s3s-fs's file-system backend served in-process, so the demo user's
//! secret key stays in memory (a child process would show it in its argv to anyone
//! running `ps`) and there is no S3 process to outlive the main job.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub struct DemoS3 {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DemoS3 {
    /// Serves the objects under `root` (one directory per bucket, created here) on a
    /// free loopback port, accepting only `access_key`/`secret_key`.
    pub fn start(
        root: &Path,
        access_key: &str,
        secret_key: &str,
        buckets: &[&str],
    ) -> Result<Self> {
        for bucket in buckets {
            std::fs::create_dir_all(root.join(bucket))?;
        }
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let service = builder.build();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("demo-s3")
            .enable_all()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("binding the demo S3")?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            // Serves until the runtime is shut down.
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(conn);
            }
        });
        Ok(Self {
            addr,
            runtime: Some(runtime),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DemoS3 {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
