import { parse, type Tags } from 'yaml';

// PyYAML (what Synapse reads its config with) resolves only these plain scalars as YAML 1.1
// booleans; the `yaml` package's 1.1 schema would also turn `y`/`n` into booleans.
const PY_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PY_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;

const pyyamlBooleans = (tags: Tags): Tags =>
  tags.map((t) => {
    if (typeof t !== 'object' || t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return t;
    return { ...t, test: t.test.test('true') ? PY_TRUE : PY_FALSE };
  });

/**
 * Parses a YAML document the way PyYAML's safe_load does for config files: YAML 1.1 (`yes`/`no`/
 * `on`/`off` are booleans, `0755` is octal). Throws the parser's error on bad syntax.
 */
export function parseYaml11(text: string): unknown {
  return parse(text, { version: '1.1', customTags: pyyamlBooleans });
}
