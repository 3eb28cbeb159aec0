"""The worker scripts of benchmarks/tabular_adult.py: each runs in its own process (emberfit, fastai v2, LightGBM).

Every worker reads its settings as JSON from argv[1] and prints one ``RESULT {json}`` line.
``score`` is accuracy for the classification settings and RMSE of log(price) for ``diamonds``.
"""

# Shared by every worker: the frames, the columns and the splits.
LOAD = """
import json, resource, sys, time
import numpy as np, pandas as pd
LESSON_CATS = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race']
LESSON_CONTS = ['age', 'fnlwgt', 'education-num']
UCI_COLS = ['age', 'workclass', 'fnlwgt', 'education', 'education-num', 'marital-status', 'occupation',
            'relationship', 'race', 'sex', 'capital-gain', 'capital-loss', 'hours-per-week', 'native-country',
            'salary']
UCI_CATS = LESSON_CATS + ['sex', 'native-country']
UCI_CONTS = LESSON_CONTS + ['capital-gain', 'capital-loss', 'hours-per-week']
DIAMOND_CATS = ['cut', 'color', 'clarity']
DIAMOND_CONTS = ['carat', 'depth', 'table', 'x', 'y', 'z']

def read_uci(f, skiprows):
    df = pd.read_csv(f, header=None, names=UCI_COLS, skipinitialspace=True, na_values='?', skiprows=skiprows)
    df['salary'] = df['salary'].str.rstrip('.')  # adult.test writes '<=50K.' / '>50K.'
    return df

def load(S):
    '''(df, cat_names, cont_names, label, train_idx, valid_idx)'''
    setting, data_dir = S['setting'], S['data']
    if setting == 'uci':
        train = read_uci(f'{data_dir}/adult/adult.data', 0)
        test = read_uci(f'{data_dir}/adult/adult.test', 1)  # first line: '|1x3 Cross validator'
        df = pd.concat([train, test], ignore_index=True)
        return df, UCI_CATS, UCI_CONTS, 'salary', np.arange(len(train)), np.arange(len(train), len(df))
    if setting == 'diamonds':  # ggplot2's diamonds, as shipped in the plotnine wheel; predict log(price)
        df = pd.read_csv(S['diamonds_csv'])
        df['log_price'] = np.log(df['price'])
        valid = np.sort(np.random.default_rng(42).permutation(len(df))[: int(0.2 * len(df))])
        return df, DIAMOND_CATS, DIAMOND_CONTS, 'log_price', np.setdiff1d(np.arange(len(df)), valid), valid
    df = pd.read_csv(f'{data_dir}/adult_sample/adult.csv')
    if setting == 'lesson':
        valid = np.arange(800, 1000)
    else:  # 'speed': a random 20% (numpy default_rng(42) permutation)
        valid = np.sort(np.random.default_rng(42).permutation(len(df))[: int(0.2 * len(df))])
    return df, LESSON_CATS, LESSON_CONTS, 'salary', np.setdiff1d(np.arange(len(df)), valid), valid

def report(**kw):
    kw['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print('RESULT ' + json.dumps(kw))

def clock():
    return time.perf_counter(), time.process_time()

def epoch_times(marks):
    '''From (wall, cpu) marks at fit start and each epoch end: the first epoch (it carries the
    process's one-time warm-up, e.g. oneDNN kernel generation) and the mean of the later ones.'''
    wall = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    cpu = [b[1] - a[1] for a, b in zip(marks, marks[1:])]
    later = slice(1, None) if len(wall) > 1 else slice(0, None)
    return dict(first_epoch_s=wall[0], sec_per_epoch=sum(wall[later]) / len(wall[later]),
                cpu_per_epoch=sum(cpu[later]) / len(cpu[later]), fit_s=sum(wall))
"""

EMBERFIT_RUN = (
    LOAD
    + """
import torch
from emberfit.tabular import *
S = json.loads(sys.argv[1])
torch.set_num_threads(S['threads'])
df, cats, conts, label, train_idx, valid_idx = load(S)
reg = S['setting'] == 'diamonds'
set_seed(S['seed'])
t0 = time.perf_counter()
data = (TabularList.from_df(df, cat_names=cats, cont_names=conts, procs=[FillMissing, Categorify, Normalize])
        .split_by_idx(valid_idx).label_from_df(cols=label, **(dict(label_cls=FloatList) if reg else {}))
        .databunch(bs=S['bs'], device='cpu'))
prep = time.perf_counter() - t0
class EpochTimer(Callback):
    def before_fit(self): self.marks = [clock()]
    def after_epoch(self): self.marks.append(clock())
timer, extra = EpochTimer(), {}
t1 = time.perf_counter()
if S['sched'] == 'preset':  # the 'strong' recipe: early stopping on held-out training rows
    learn = tabular_learner(data, preset='strong', metrics=rmse if reg else accuracy, silent=True)
    learn.add_cb(timer)
    learn.fit_preset()
    extra = dict(epochs_run=learn.preset_report['epochs_run'], best_epoch=learn.preset_report['best_epoch'],
                 n_members=learn.preset.n_members, preset_bs=learn.preset.bs)
else:
    learn = tabular_learner(data, layers=[200, 100], metrics=rmse if reg else accuracy, silent=True)
    if S['sched'] == 'fit':
        learn.fit(S['epochs'], S['lr'], callbacks=[timer])
    else:
        learn.fit_one_cycle(S['epochs'], S['lr'], callbacks=[timer])
fit_total = time.perf_counter() - t1  # building the learner + the whole fit
report(score=float(learn.validate()[1]), **epoch_times(timer.marks), fit_total_s=fit_total, prep_s=prep,
       n_train=len(train_idx), n_valid=len(valid_idx), torch=torch.__version__, **extra)
"""
)

FASTAI_RUN = (
    LOAD
    + """
import torch
from fastai.tabular.all import *
S = json.loads(sys.argv[1])
torch.set_num_threads(S['threads'])
df, cats, conts, label, train_idx, valid_idx = load(S)
reg = S['setting'] == 'diamonds'
set_seed(S['seed'])
t0 = time.perf_counter()
to = TabularPandas(df, procs=[Categorify, FillMissing, Normalize], cat_names=cats, cont_names=conts,
                   y_names=label, y_block=RegressionBlock() if reg else None,
                   splits=(list(train_idx), list(valid_idx)))
dls = to.dataloaders(bs=S['bs'], device='cpu')
prep = time.perf_counter() - t0
learn = tabular_learner(dls, layers=[200, 100], metrics=rmse if reg else accuracy)
class EpochTimer(Callback):
    order = 100  # after the validation pass
    def before_fit(self): self.marks = [clock()]
    def after_epoch(self): self.marks.append(clock())
timer = EpochTimer()
t1 = time.perf_counter()
with learn.no_bar(), learn.no_logging():
    if S['sched'] == 'fit':
        learn.fit(S['epochs'], S['lr'], cbs=timer)
    else:
        learn.fit_one_cycle(S['epochs'], S['lr'], cbs=timer)
fit_total = time.perf_counter() - t1
import fastai
report(score=float(learn.validate()[1]), **epoch_times(timer.marks), fit_total_s=fit_total, prep_s=prep,
       n_train=len(train_idx), n_valid=len(valid_idx), torch=torch.__version__, fastai=fastai.__version__)
"""
)

LGBM_RUN = (
    LOAD
    + """
import lightgbm as lgb
S = json.loads(sys.argv[1])
df, cats, conts, label, train_idx, valid_idx = load(S)
reg = S['setting'] == 'diamonds'
X = df[cats + conts].copy()
for c in cats:  # one category set for both splits, so codes agree
    X[c] = X[c].astype('category')
if reg:
    y = df[label].to_numpy()
else:
    y = (df[label] == df[label].sort_values().unique()[-1]).astype(int).to_numpy()
t0 = time.perf_counter()
# LightGBM's defaults (100 rounds, 31 leaves...); only the thread count is set, as for the networks
params = {'objective': 'regression' if reg else 'binary', 'verbose': -1, 'num_threads': S['threads']}
model = lgb.train(params, lgb.Dataset(X.iloc[train_idx], y[train_idx]))
fit = time.perf_counter() - t0
pred = model.predict(X.iloc[valid_idx])
score = float(np.sqrt(((pred - y[valid_idx]) ** 2).mean())) if reg else float(((pred > 0.5) == y[valid_idx]).mean())
report(score=score, fit_s=fit, fit_total_s=fit, n_train=len(train_idx), n_valid=len(valid_idx), lightgbm=lgb.__version__)
"""
)

BIG_RUN = """
import json, resource, sys, time
import numpy as np, pandas as pd, torch
from emberfit.tabular import *
S = json.loads(sys.argv[1])
torch.set_num_threads(S['threads'])
n, rng = S['rows'], np.random.default_rng(0)
cards = [2, 5, 10, 20, 50, 100, 500, 1000, 5000, 10000]
cols, logit = {}, np.zeros(n)
for i, card in enumerate(cards):
    codes = rng.integers(0, card, n)
    logit += rng.normal(size=card)[codes] * 0.5
    vals = np.array([f'c{i}_{k}' for k in range(card)], dtype=object)[codes]
    vals[rng.random(n) < 0.02] = None
    cols[f'cat{i}'] = pd.array(vals, dtype='str')
for i in range(10):
    x = rng.normal(size=n)
    logit += x * (0.3 if i < 5 else 0.0)
    x[rng.random(n) < 0.05] = np.nan
    cols[f'cont{i}'] = x
cols['y'] = (logit + rng.logistic(size=n) > 0).astype(np.int64)
df = pd.DataFrame(cols)
df_mb = df.memory_usage(deep=True).sum() / 2**20
rss_df = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cats, conts = [f'cat{i}' for i in range(10)], [f'cont{i}' for i in range(10)]
t0 = time.perf_counter()
data = (TabularList.from_df(df, cat_names=cats, cont_names=conts, procs=[FillMissing, Categorify, Normalize])
        .split_by_rand_pct(0.1, seed=0).label_from_df(cols='y').databunch(bs=S['bs'], device='cpu'))
prep = time.perf_counter() - t0
arrays_mb = sum(a.nbytes for l in (data.train_ds.x, data.valid_ds.x) for a in (l.codes, l.conts)) / 2**20
set_seed(0)
t0, c0 = time.perf_counter(), time.process_time()
if S.get('preset'):
    learn = tabular_learner(data, preset='strong', metrics=accuracy, silent=True)
    learn.fit_preset()
    epochs = learn.preset_report['epochs_run']
else:
    learn = tabular_learner(data, layers=[200, 100], metrics=accuracy, silent=True)
    learn.fit_one_cycle(1, 1e-2)
    epochs = 1
fit, cpu = time.perf_counter() - t0, time.process_time() - c0
print('RESULT ' + json.dumps(dict(score=float(learn.validate()[1]), prep_s=prep, sec_per_epoch=fit / epochs,
      fit_s=fit, fit_total_s=fit, cpu_per_epoch=cpu / epochs, epochs_run=epochs, n_train=len(data.train_ds),
      n_valid=len(data.valid_ds), df_mb=df_mb, arrays_mb=arrays_mb, rss_after_df_mb=rss_df,
      peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""
