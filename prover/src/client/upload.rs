//! Uploading an epoch: its parts and the SubmitEpoch stream.

use super::{io_err, Client, ClientError};
use crate::proto;
use std::path::PathBuf;
use tokio::io::AsyncReadExt;
use tokio_stream::wrappers::ReceiverStream;

/// Bytes per upload chunk (the service decodes messages of up to 4 MiB).
pub const UPLOAD_CHUNK: usize = 1 << 20;

/// An epoch to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpochSource {
    /// SPEC's JSON epoch file.
    Json(PathBuf),
    /// The two parties' CSV logs.
    CsvPair {
        activations: PathBuf,
        influence: PathBuf,
        epoch_id: u64,
        rate_bps: u16,
    },
}

/// One part of an upload, as bytes in memory or a file.
#[derive(Debug)]
pub enum PartData {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl PartData {
    pub(super) async fn len(&self) -> Result<u64, ClientError> {
        match self {
            PartData::Bytes(b) => Ok(b.len() as u64),
            PartData::File(p) => Ok(tokio::fs::metadata(p).await.map_err(io_err(p))?.len()),
        }
    }
}

impl EpochSource {
    /// The header and the parts to stream.
    pub fn into_upload(
        self,
        backend: proto::Backend,
    ) -> (proto::SubmitHeader, Vec<(proto::Part, PartData)>) {
        match self {
            EpochSource::Json(path) => (
                proto::SubmitHeader {
                    backend: backend.into(),
                    format: proto::EpochFormat::Json.into(),
                    ..Default::default()
                },
                vec![(proto::Part::EpochJson, PartData::File(path))],
            ),
            EpochSource::CsvPair {
                activations,
                influence,
                epoch_id,
                rate_bps,
            } => (
                proto::SubmitHeader {
                    backend: backend.into(),
                    format: proto::EpochFormat::CsvPair.into(),
                    epoch_id,
                    rate_bps: rate_bps.into(),
                    uploaded_parts: Vec::new(),
                },
                vec![
                    (proto::Part::ActivationsCsv, PartData::File(activations)),
                    (proto::Part::InfluenceCsv, PartData::File(influence)),
                ],
            ),
        }
    }
}

/// Streams `header`, the parts in chunks, then finish; `on_sent` hears the bytes sent so far.
pub async fn submit(
    client: &mut Client,
    header: proto::SubmitHeader,
    parts: Vec<(proto::Part, PartData)>,
    mut on_sent: impl FnMut(u64) + Send + 'static,
) -> Result<proto::SubmitEpochResponse, ClientError> {
    use proto::submit_epoch_request::Msg;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let producer = tokio::spawn(async move {
        let msg = |m| proto::SubmitEpochRequest { msg: Some(m) };
        if tx.send(msg(Msg::Header(header))).await.is_err() {
            return Ok(());
        }
        let mut sizes = Vec::new();
        let mut sent = 0u64;
        for (part, data) in parts {
            let size = data.len().await?;
            let mut chunks: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match data {
                PartData::Bytes(b) => Box::new(std::io::Cursor::new(b)),
                PartData::File(p) => Box::new(tokio::fs::File::open(&p).await.map_err(io_err(&p))?),
            };
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            loop {
                let n = chunks
                    .read(&mut buf)
                    .await
                    .map_err(|source| ClientError::Io {
                        path: format!("{part:?}"),
                        source,
                    })?;
                if n == 0 {
                    break;
                }
                let chunk = proto::Chunk {
                    part: part.into(),
                    data: buf[..n].to_vec(),
                };
                if tx.send(msg(Msg::Chunk(chunk))).await.is_err() {
                    // The service stopped reading (it refused the upload); its answer says why.
                    return Ok(());
                }
                sent += n as u64;
                on_sent(sent);
            }
            sizes.push(proto::PartSize {
                part: part.into(),
                size,
            });
        }
        let _ = tx.send(msg(Msg::Finish(proto::Finish { sizes }))).await;
        Ok::<(), ClientError>(())
    });
    let answer = client.submit_epoch(ReceiverStream::new(rx)).await;
    // A local read error explains a refusal better than the service's "truncated".
    match producer.await {
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(ClientError::Protocol(format!("upload task failed: {e}"))),
        Ok(Ok(())) => {}
    }
    Ok(answer?.into_inner())
}
