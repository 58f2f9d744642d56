"Reference solutions to the exercises of lesson 4 (Tracing circuits). Not imported by the lesson."
import torch



def edges_between(W, src_keep, dst_keep):
    return int(((W != 0) & dst_keep[:, None] & src_keep[None, :]).sum())


def scale_hook(scale, mean):
    def hook(act, name):
        return act * scale + mean * (1 - scale)
    return hook


def key_node(sliders):
    "The first node moved by the slider whose knock-out alone hurts accuracy most."
    ko = sliders.knockouts()
    worst = min(ko, key=ko.get)
    loc, i = sliders.groups[worst][0]
    return f'{loc}[{i}]'


def my_patching_effect(clean, patched, corrupted):
    clean, patched, corrupted = (torch.as_tensor(x, dtype=torch.float64) for x in (clean, patched, corrupted))
    return float((clean.mean() - patched.mean()) / (clean.mean() - corrupted.mean()))
