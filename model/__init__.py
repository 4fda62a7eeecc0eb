"""Face finding and age/gender prediction: training, evaluation, export and serving."""
