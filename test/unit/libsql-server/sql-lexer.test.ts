/**
 * The local libSQL server's statement splitter and parameter numbering, checked against the
 * real engine: SQLite's own bytecode (EXPLAIN) names every parameter with its index, so the
 * lexer's numbering must agree with it for every statement of the corpus.
 */
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';

import { firstKeyword, scanParameters, splitStatements } from '../../../control/dev/libsql-server/sql-lexer.js';

describe('splitStatements', () => {
  it('splits on semicolons and keeps each statement with its own terminator', () => {
    expect(splitStatements('SELECT 1; SELECT 2;')).toEqual(['SELECT 1;', 'SELECT 2;']);
    expect(splitStatements('SELECT 1')).toEqual(['SELECT 1']);
    expect(splitStatements('  SELECT 1 ;  \n')).toEqual(['SELECT 1 ;']);
  });

  it('drops empty statements and comments-only text', () => {
    expect(splitStatements('')).toEqual([]);
    expect(splitStatements('  ;; ; ')).toEqual([]);
    expect(splitStatements('-- just a comment')).toEqual([]);
    expect(splitStatements('/* block */ ; -- line\n')).toEqual([]);
    expect(splitStatements('SELECT 1; -- trailing comment')).toEqual(['SELECT 1;']);
  });

  it('ignores semicolons inside strings, quoted identifiers and comments', () => {
    const sql = `INSERT INTO "a;b" VALUES ('x;y', [c;d], \`e;f\`) /* ; */ -- ;\n; SELECT 'it''s;'`;
    expect(splitStatements(sql)).toEqual([
      `INSERT INTO "a;b" VALUES ('x;y', [c;d], \`e;f\`) /* ; */ -- ;\n;`,
      `SELECT 'it''s;'`,
    ]);
  });

  it('keeps a CREATE TRIGGER body with its inner semicolons as one statement', () => {
    const trigger =
      'CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET n = n + 1; ' +
      'SELECT CASE WHEN 1 THEN 2 END; END;';
    expect(splitStatements(`${trigger} SELECT 3;`)).toEqual([trigger, 'SELECT 3;']);
    const explained = 'EXPLAIN CREATE TRIGGER u BEFORE DELETE ON a BEGIN DELETE FROM b; END;';
    expect(splitStatements(explained)).toEqual([explained]);
  });

  it('treats END outside a trigger as an ordinary word', () => {
    expect(splitStatements('BEGIN; END; COMMIT;')).toEqual(['BEGIN;', 'END;', 'COMMIT;']);
    expect(splitStatements('SELECT CASE WHEN 1 THEN 2 END; SELECT 4')).toEqual([
      'SELECT CASE WHEN 1 THEN 2 END;',
      'SELECT 4',
    ]);
  });

  it('puts an unterminated string in the last statement (the engine reports it)', () => {
    expect(splitStatements("SELECT 1; SELECT 'open; SELECT 2")).toEqual(['SELECT 1;', "SELECT 'open; SELECT 2"]);
  });
});

describe('firstKeyword', () => {
  it('skips comments and white space and upper-cases', () => {
    expect(firstKeyword('  -- c\n /* d */ explain query plan select 1')).toBe('EXPLAIN');
    expect(firstKeyword('"select" FROM x')).toBe('');
    expect(firstKeyword('')).toBe('');
  });
});

describe('scanParameters', () => {
  it('numbers ?, ?NNN and names the way SQLite does', () => {
    const scanned = scanParameters('SELECT ?, :a, ?, ?5, @b, :a, ?, $c');
    expect(scanned.count).toBe(8);
    expect(scanned.names).toEqual([null, ':a', null, null, '?5', '@b', null, '$c']);
    expect(Object.fromEntries(scanned.indexByName)).toEqual({ ':a': 2, '?5': 5, '@b': 6, $c: 8 });
  });

  it('sees no parameters in strings, identifiers or comments', () => {
    const scanned = scanParameters(`SELECT '?', ":a", [?], \`@b\` /* ? */ -- ?\n FROM t`);
    expect(scanned.count).toBe(0);
  });

  const engine = new Database(':memory:');
  engine.exec('CREATE TABLE t(a, b, c)');
  afterAll(() => engine.close());

  /** Parameter index -> name as SQLite's bytecode has it (opcode Variable: P1 index, P4 name). */
  function engineParameters(statement: string): Map<number, string> {
    const program = engine.prepare(`EXPLAIN ${statement}`).raw(true).all() as unknown[][];
    const parameters = new Map<number, string>();
    for (const instruction of program) {
      if (instruction[1] === 'Variable') parameters.set(Number(instruction[2]), String(instruction[5] ?? ''));
    }
    return parameters;
  }

  const corpus = [
    'SELECT ?, ?, ?',
    'SELECT ?3, ?, :x',
    'SELECT :x, :y, :x, ?',
    'SELECT @a, $b, :c, ?2',
    'INSERT INTO t (a, b, c) VALUES (?1, ?2, ?1)',
    'UPDATE t SET a = :value WHERE b = :key AND c = ?',
    "SELECT ':nope', ? FROM t WHERE a = ':x' OR b = @real",
    'SELECT ?10',
    'SELECT :ünïcode, ?',
  ];
  it.each(corpus)('agrees with the engine on %s', (statement) => {
    const scanned = scanParameters(statement);
    const fromEngine = engineParameters(statement);
    expect(Math.max(0, ...fromEngine.keys())).toBe(scanned.count);
    for (const [index, name] of fromEngine) {
      // The bytecode has no name for an anonymous ?; the lexer keeps null for those.
      expect(scanned.names[index - 1] ?? '', `index ${index}`).toBe(name);
    }
  });
});
