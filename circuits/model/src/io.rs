//! Reading and writing epochs: SPEC's JSON epoch file and the CSV pair the two parties publish.
//!
//! Every reader checks SPEC's rules as it goes and reports the first broken one, naming the
//! query and the rule (and, for CSV, the file and line).

use crate::types::{Epoch, EpochParams, Query, Slot};
use crate::validate::{canonical_slots, check_params, OrderCheck, QueryRule, StatementError};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use thiserror::Error;

/// Why an input could not be read as an epoch.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("malformed epoch JSON at {path}: {message}")]
    Json { path: String, message: String },
    #[error("{file} line {line}: {message}")]
    Csv {
        file: &'static str,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    CsvHeader { file: &'static str, message: String },
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// One query as the interchange formats carry it: used slots only.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRecord {
    query_id: u64,
    fee: u64,
    #[serde(default)]
    slots: Vec<Slot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochFile {
    epoch_id: u64,
    rate_bps: u16,
    queries: Vec<QueryRecord>,
}

#[derive(Serialize)]
struct EpochFileRef<'a> {
    epoch_id: u64,
    rate_bps: u16,
    #[serde(serialize_with = "serialize_queries")]
    queries: &'a [Query],
}

fn serialize_queries<S: serde::Serializer>(queries: &&[Query], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(queries.iter().map(|q| QueryRecord {
        query_id: q.query_id,
        fee: q.fee,
        slots: q.used_slots().copied().collect(),
    }))
}

/// Reads SPEC's JSON epoch file and checks every rule.
pub fn read_epoch_json(reader: impl Read) -> Result<Epoch, InputError> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let file: EpochFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        InputError::Json {
            path,
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| InputError::Json {
        path: ".".into(),
        message: e.to_string(),
    })?;
    let params = EpochParams {
        epoch_id: file.epoch_id,
        rate_bps: file.rate_bps,
    };
    check_params(&params)?;
    let mut order = OrderCheck::default();
    let mut queries = Vec::with_capacity(file.queries.len());
    for (index, record) in file.queries.into_iter().enumerate() {
        let slots = canonical_slots(&record.slots).map_err(|rule| StatementError::Query {
            query_id: record.query_id,
            index,
            rule,
        })?;
        let query = Query {
            query_id: record.query_id,
            fee: record.fee,
            slots,
        };
        order.push(&query)?;
        queries.push(query);
    }
    Ok(Epoch { params, queries })
}

/// Writes SPEC's JSON epoch file (used slots only, as SPEC lists them).
pub fn write_epoch_json(epoch: &Epoch, writer: impl Write) -> Result<(), InputError> {
    let mut writer = std::io::BufWriter::new(writer);
    let file = EpochFileRef {
        epoch_id: epoch.params.epoch_id,
        rate_bps: epoch.params.rate_bps,
        queries: &epoch.queries,
    };
    serde_json::to_writer(&mut writer, &file).map_err(std::io::Error::from)?;
    writer.write_all(b"\n")?;
    writer.flush()?;
    Ok(())
}

const ACTIVATIONS: &str = "activations.csv";
const INFLUENCE: &str = "influence.csv";
const ACTIVATION_HEADER: [&str; 4] = ["query_id", "fee", "adapter_id", "gate"];
const INFLUENCE_HEADER: [&str; 3] = ["query_id", "adapter_id", "score"];

/// A row of activations.csv: one used slot, or (adapter_id empty or 0) a query with none.
#[derive(Debug, Deserialize, Serialize)]
struct ActivationRow {
    query_id: u64,
    fee: u64,
    adapter_id: Option<u32>,
    gate: Option<u16>,
}

/// A row of influence.csv: the score of one activated (query, adapter) pair.
#[derive(Debug, Deserialize, Serialize)]
struct InfluenceRow {
    query_id: u64,
    adapter_id: u32,
    score: i32,
}

fn csv_error(file: &'static str, e: csv::Error) -> InputError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let message = match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!(
                "column {} ({}): {}",
                field + 1,
                column_name(file, field as usize),
                err.kind()
            ),
            None => err.kind().to_string(),
        },
        _ => e.to_string(),
    };
    InputError::Csv {
        file,
        line,
        message,
    }
}

fn column_name(file: &'static str, field: usize) -> &'static str {
    let header: &[&'static str] = if file == ACTIVATIONS {
        &ACTIVATION_HEADER
    } else {
        &INFLUENCE_HEADER
    };
    header.get(field).copied().unwrap_or("?")
}

/// A CSV file read one row at a time, with one row of look-ahead; every row carries its line.
#[derive(Debug)]
struct RowStream<R: Read, T> {
    file: &'static str,
    reader: csv::Reader<R>,
    header: csv::StringRecord,
    record: csv::StringRecord,
    peeked: Option<(u64, T)>,
}

impl<R: Read, T: serde::de::DeserializeOwned> RowStream<R, T> {
    fn open(file: &'static str, expected: &[&str], reader: R) -> Result<Self, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header = reader.headers().map_err(|e| csv_error(file, e))?.clone();
        if header.iter().ne(expected.iter().copied()) {
            return Err(InputError::CsvHeader {
                file,
                message: format!(
                    "header is {:?}; expected {:?}",
                    header.iter().collect::<Vec<_>>(),
                    expected
                ),
            });
        }
        Ok(RowStream {
            file,
            reader,
            header,
            record: csv::StringRecord::new(),
            peeked: None,
        })
    }

    fn read(&mut self) -> Result<Option<(u64, T)>, InputError> {
        if !self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| csv_error(self.file, e))?
        {
            return Ok(None);
        }
        let line = self.record.position().map(|p| p.line()).unwrap_or(0);
        let row = self
            .record
            .deserialize(Some(&self.header))
            .map_err(|e| csv_error(self.file, e))?;
        Ok(Some((line, row)))
    }

    fn peek(&mut self) -> Result<Option<&(u64, T)>, InputError> {
        if self.peeked.is_none() {
            self.peeked = self.read()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn next(&mut self) -> Result<Option<(u64, T)>, InputError> {
        match self.peeked.take() {
            Some(row) => Ok(Some(row)),
            None => self.read(),
        }
    }
}

/// Streams queries out of the CSV pair, one at a time: memory stays at one query.
///
/// Both files are sorted by `query_id`; within a query, by `adapter_id`. Each used slot is one
/// row in each file; a query with no used slot is one activations row with an empty (or 0)
/// `adapter_id` and no influence row.
#[derive(Debug)]
pub struct CsvQueries<A: Read, I: Read> {
    activations: RowStream<A, ActivationRow>,
    influence: RowStream<I, InfluenceRow>,
    order: OrderCheck,
    index: usize,
    failed: bool,
}

impl<A: Read, I: Read> CsvQueries<A, I> {
    pub fn new(activations: A, influence: I) -> Result<Self, InputError> {
        Ok(CsvQueries {
            activations: RowStream::open(ACTIVATIONS, &ACTIVATION_HEADER, activations)?,
            influence: RowStream::open(INFLUENCE, &INFLUENCE_HEADER, influence)?,
            order: OrderCheck::default(),
            index: 0,
            failed: false,
        })
    }

    fn next_query(&mut self) -> Result<Option<Query>, InputError> {
        let Some((first_line, first)) = self.activations.next()? else {
            return self.check_influence_exhausted().map(|()| None);
        };
        let query_id = first.query_id;
        let fee = first.fee;
        let index = self.index;
        let rule = |rule| {
            InputError::Statement(StatementError::Query {
                query_id,
                index,
                rule,
            })
        };
        let mut activated: Vec<(u32, u16)> = Vec::new();
        let mut no_slot_row = None;
        let mut absorb = |line: u64, row: ActivationRow| -> Result<(), InputError> {
            match row.adapter_id.unwrap_or(0) {
                0 => {
                    if row.gate.unwrap_or(0) != 0 || no_slot_row.is_some() {
                        return Err(InputError::Csv {
                            file: ACTIVATIONS,
                            line,
                            message: format!(
                                "query {query_id}: a row without adapter_id marks a query with no used slot; it needs gate 0 and must be the query's only row"
                            ),
                        });
                    }
                    no_slot_row = Some(line);
                }
                adapter => {
                    // An empty gate cell is no number: read as 0 it would zero a used slot.
                    let Some(gate) = row.gate else {
                        return Err(InputError::Csv {
                            file: ACTIVATIONS,
                            line,
                            message: format!(
                                "query {query_id}: adapter {adapter} has an empty gate cell"
                            ),
                        });
                    };
                    activated.push((adapter, gate));
                }
            }
            Ok(())
        };
        absorb(first_line, first)?;
        while let Some((line, row)) = self.activations.peek()? {
            if row.query_id != query_id {
                break;
            }
            if row.fee != fee {
                return Err(InputError::Csv {
                    file: ACTIVATIONS,
                    line: *line,
                    message: format!(
                        "query {query_id}: fee {} differs from the fee {fee} on the query's first row (line {first_line})",
                        row.fee
                    ),
                });
            }
            if let Some((line, row)) = self.activations.next()? {
                absorb(line, row)?;
            }
        }
        if let (Some(line), false) = (no_slot_row, activated.is_empty()) {
            return Err(InputError::Csv {
                file: ACTIVATIONS,
                line,
                message: format!(
                    "query {query_id}: a row without adapter_id marks a query with no used slot, but the query has used slots"
                ),
            });
        }

        let mut scored: Vec<(u32, i32)> = Vec::new();
        while let Some((line, row)) = self.influence.peek()? {
            if row.query_id > query_id {
                break;
            }
            if row.query_id < query_id {
                return Err(InputError::Csv {
                    file: INFLUENCE,
                    line: *line,
                    message: format!(
                        "query {} has no activation record (next activation query is {query_id}; both logs list the same queries in increasing query_id)",
                        row.query_id
                    ),
                });
            }
            scored.push((row.adapter_id, row.score));
            self.influence.next()?;
        }

        let activation_ids: Vec<u32> = activated.iter().map(|a| a.0).collect();
        let influence_ids: Vec<u32> = scored.iter().map(|s| s.0).collect();
        if activation_ids != influence_ids {
            return Err(rule(QueryRule::AdapterMismatch {
                activation: activation_ids,
                influence: influence_ids,
            }));
        }
        let used: Vec<Slot> = activated
            .iter()
            .zip(&scored)
            .map(|(&(adapter_id, gate), &(_, score))| Slot {
                adapter_id,
                gate,
                score,
            })
            .collect();
        let slots = canonical_slots(&used).map_err(rule)?;
        let query = Query {
            query_id,
            fee,
            slots,
        };
        self.order.push(&query)?;
        self.index += 1;
        Ok(Some(query))
    }

    fn check_influence_exhausted(&mut self) -> Result<(), InputError> {
        match self.influence.next()? {
            None => Ok(()),
            Some((line, row)) => Err(InputError::Csv {
                file: INFLUENCE,
                line,
                message: format!(
                    "query {} (adapter {}) has no activation record",
                    row.query_id, row.adapter_id
                ),
            }),
        }
    }
}

impl<A: Read, I: Read> Iterator for CsvQueries<A, I> {
    type Item = Result<Query, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_query().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// Reads a whole epoch from the CSV pair.
pub fn read_csv_pair(
    params: EpochParams,
    activations: impl Read,
    influence: impl Read,
) -> Result<Epoch, InputError> {
    check_params(&params)?;
    let queries = CsvQueries::new(activations, influence)?.collect::<Result<Vec<_>, _>>()?;
    Ok(Epoch { params, queries })
}

/// Writes the CSV pair for an epoch (the inverse of [`read_csv_pair`]).
pub fn write_csv_pair(
    epoch: &Epoch,
    activations: impl Write,
    influence: impl Write,
) -> Result<(), InputError> {
    let mut act = csv::Writer::from_writer(activations);
    let mut inf = csv::Writer::from_writer(influence);
    let to_io = |e: csv::Error| InputError::Io(std::io::Error::other(e));
    act.write_record(ACTIVATION_HEADER).map_err(to_io)?;
    inf.write_record(INFLUENCE_HEADER).map_err(to_io)?;
    for q in &epoch.queries {
        if q.used_count() == 0 {
            act.write_record([
                q.query_id.to_string(),
                q.fee.to_string(),
                String::new(),
                String::new(),
            ])
            .map_err(to_io)?;
        }
        for s in q.used_slots() {
            act.write_record([
                q.query_id.to_string(),
                q.fee.to_string(),
                s.adapter_id.to_string(),
                s.gate.to_string(),
            ])
            .map_err(to_io)?;
            inf.write_record([
                q.query_id.to_string(),
                s.adapter_id.to_string(),
                s.score.to_string(),
            ])
            .map_err(to_io)?;
        }
    }
    act.flush()?;
    inf.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot field the epoch file does not define is refused like one in a query or the
    /// file itself, not dropped: the epoch read must be what the bytes say.
    #[test]
    fn unknown_slot_field_is_refused() {
        let with = |extra: &str| {
            format!(
                r#"{{"epoch_id":3,"rate_bps":5000,"queries":[{{"query_id":1,"fee":10,"slots":[{{"adapter_id":4,"gate":500,"score":1{extra}}}]}}]}}"#
            )
        };
        assert!(read_epoch_json(with("").as_bytes()).is_ok());
        let err = read_epoch_json(with(r#","scor":2"#).as_bytes()).unwrap_err();
        assert!(
            matches!(&err, InputError::Json { path, message }
                if path == "queries[0].slots[0].scor" && message.contains("unknown field `scor`")),
            "{err}"
        );
    }

    /// A used slot's empty gate cell is refused, not read as gate 0.
    #[test]
    fn empty_gate_of_used_slot_is_refused() {
        let params = EpochParams {
            epoch_id: 3,
            rate_bps: 5000,
        };
        let inf = "query_id,adapter_id,score\n1,4,1\n";
        let read = |gate: &str| {
            let act = format!("query_id,fee,adapter_id,gate\n1,10,4,{gate}\n");
            read_csv_pair(params, act.as_bytes(), inf.as_bytes())
        };
        assert!(read("500").is_ok());
        let err = read("").unwrap_err();
        assert!(
            matches!(&err, InputError::Csv { line: 2, message, .. } if message.contains("empty gate")),
            "{err}"
        );
    }

    /// A line may end with `\n`, `\r\n` or a lone `\r` (the csv crate's terminators): the
    /// three spellings read as the same epoch (the fuzzer's csv-pair rule "CR, LF or CRLF line
    /// ends" relies on it).
    #[test]
    fn cr_lf_and_crlf_line_ends_read_alike() {
        let params = EpochParams {
            epoch_id: 4,
            rate_bps: 0,
        };
        let read = |end: &str| {
            let act = [
                "query_id,fee,adapter_id,gate",
                "10,999999,1,1",
                "10,999999,2,2",
                "",
            ]
            .join(end);
            let inf = ["query_id,adapter_id,score", "10,1,1", "10,2,2", ""].join(end);
            read_csv_pair(params, act.as_bytes(), inf.as_bytes()).unwrap()
        };
        let lf = read("\n");
        assert_eq!(lf.queries.len(), 1);
        assert_eq!(read("\r\n"), lf);
        assert_eq!(read("\r"), lf);
    }
}
