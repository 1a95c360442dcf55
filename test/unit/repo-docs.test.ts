/**
 * The repository is whole: what its files point to is in it. Every mention of the facts file
 * names one the repository holds (comments once pointed at a copy outside it), and every
 * relative link in README.md and docs/ reaches a file, and a heading where it names one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { projectRoot } from '../support/harness.js';

/** Tracked files and new ones not ignored: what a clone (or the next commit) holds. */
function repositoryFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: projectRoot,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((file) => file !== '' && existsSync(join(projectRoot, file)));
}

/** Whether `target`, read from `file`'s folder or from the root, is a path inside the repository. */
function inRepository(file: string, target: string): boolean {
  return [dirname(join(projectRoot, file)), projectRoot].some((base) => {
    const path = resolve(base, target);
    return !relative(projectRoot, path).startsWith('..') && existsSync(path);
  });
}

/** Markdown without its fenced code blocks. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^ *(```|~~~)[^\n]*\n[\s\S]*?^ *\1[^\n]*$/gm, '');
}

/** Markdown without code, where link-like text is not a link. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchors for a markdown file's headings. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const [, text] of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = (text ?? '')
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    found.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return found;
}

function markdownFiles(folder: string): string[] {
  const abs = join(projectRoot, folder);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .map((name) => join(folder, name))
    .filter((file) => file.endsWith('.md') && statSync(join(projectRoot, file)).isFile());
}

describe('the repository points only to what it holds', () => {
  it('when a file names the facts file, then it names one in the repository, and the README and the layout list it', () => {
    const dangling: string[] = [];
    let mentions = 0;
    for (const file of repositoryFiles()) {
      const path = join(projectRoot, file);
      const stat = statSync(path);
      if (!stat.isFile() || stat.size > 2_000_000) continue;
      const text = readFileSync(path, 'utf8');
      for (const match of text.matchAll(/[\w./-]*facts\.md/gi)) {
        mentions += 1;
        const line = text.slice(0, match.index).split('\n').length;
        if (!inRepository(file, match[0])) dangling.push(`${file}:${line} ${match[0]}`);
      }
    }
    assert.deepEqual(dangling, [], 'references to a facts file the repository does not hold');
    assert.ok(mentions >= 15, `the code and docs do refer to it (${mentions} mentions)`);
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    assert.match(readme, /\]\(docs\/facts\.md\)/, "the README's map of docs/ links it");
    const architecture = readFileSync(join(projectRoot, 'docs', 'architecture.md'), 'utf8');
    const start = architecture.indexOf('## Module map');
    assert.ok(start >= 0, 'docs/architecture.md has a Module map');
    const end = architecture.indexOf('\n## ', start + 1);
    const layout = architecture.slice(start, end === -1 ? undefined : end);
    assert.match(layout, /^docs\/facts\.md\s/m, "docs/architecture.md's layout lists it");
  });

  it('when README.md or docs/ link to a relative path, then the file exists, with the heading the link names', () => {
    const files = ['README.md', ...markdownFiles('docs')];
    assert.ok(files.includes('docs/facts.md'), `docs/ holds the facts: ${files.join(', ')}`);
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      const text = readFileSync(join(projectRoot, file), 'utf8');
      for (const [, href] of prose(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        if (!href || /^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:, ...
        checked += 1;
        const [pathPart = '', anchor] = href.split('#');
        const path = decodeURIComponent(pathPart);
        const target =
          path === '' ? join(projectRoot, file) : resolve(dirname(join(projectRoot, file)), path);
        if (relative(projectRoot, target).startsWith('..') || !existsSync(target)) {
          broken.push(`${file}: ${href} (no such file in the repository)`);
          continue;
        }
        if (anchor && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor))
          broken.push(`${file}: ${href} (no such heading)`);
      }
    }
    assert.deepEqual(broken, [], 'broken relative links');
    assert.ok(checked >= 5, `links were found and checked (${checked})`);
  });
});
