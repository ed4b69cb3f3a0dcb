"""The strategy lab's files: candles and alerts read in, reports and charts written out."""
