// Runs SQL statements in an in-memory DuckDB and prints the last statement's rows as a JSON array
// of objects (values in DuckDB's JSON form: BIGINT and DECIMAL as strings, TIMESTAMP as text).
// Usage: node duckdb_query.mjs "SELECT ..." [more statements, the last one's rows are printed]
import { DuckDBInstance } from '@duckdb/node-api';

const statements = process.argv.slice(2);
if (statements.length === 0) {
  console.error('usage: node duckdb_query.mjs "SQL" ...');
  process.exit(2);
}
try {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  let rows = [];
  for (const sql of statements) {
    const reader = await conn.runAndReadAll(sql);
    rows = reader.getRowObjectsJson();
  }
  process.stdout.write(JSON.stringify(rows));
} catch (e) {
  console.error(String(e && e.message ? e.message : e));
  process.exit(1);
}
