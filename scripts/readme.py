"""Write README.md from nbs/index.ipynb: markdown cells as they are, code cells as python blocks
(cells marked `#| hide` are left out, nbdev directives are dropped). Run by .ci/run, which fails if README.md changes."""
import json, pathlib, re

root = pathlib.Path(__file__).resolve().parent.parent
nb = json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
parts = []
for cell in nb['cells']:
    src = ''.join(cell['source']).strip()
    if not src: continue
    if cell['cell_type'] == 'markdown': parts.append(src)
    elif cell['cell_type'] == 'code':
        lines = src.splitlines()
        if any(re.match(r'#\|\s*hide\b', l) for l in lines): continue
        code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if code: parts.append(f'```python\n{code}\n```')
out = '<!-- generated from nbs/index.ipynb by scripts/readme.py: edit the notebook, not this file -->\n\n'
(root/'README.md').write_text(out + '\n\n'.join(parts) + '\n', encoding='utf-8')
